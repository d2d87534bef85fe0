"""Redeeming, handing out and cancelling gifts (SPEC §7).

Lock order in every use case: the gift's row, then the redemption's row, then the two
point accounts in id order (inside ``ledger.transfer``). Points and stock therefore
change together, and cancel, fulfil and the expiry job on one redemption queue on the
gift lock; whoever comes second finds the status changed and is refused.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import func, select

from backend.auth.models import User
from backend.common.audit import audit
from backend.common.clock import LOCAL_TZ, now
from backend.common.transactions import lock, transactional, unit_of_work
from backend.communities.access import is_resident_of, is_staff_of, require_staff
from backend.communities.services import get_community
from backend.errors import ApiError
from backend.extensions import db
from backend.gifts.models import Gift, Redemption, RedemptionStatus
from backend.gifts.services import get_gift_for, lock_gift
from backend.notify.services import notify
from backend.points.ledger import account_for, transfer
from backend.points.models import AccountKind, TransferReason
from backend.refusals import (
    FORBIDDEN,
    LIMIT_EXCEEDED,
    NOT_DUE,
    NOT_FOUND,
    OUT_OF_STOCK,
    RESERVATION_EXPIRED,
)

RESERVATION_DAYS = 7
PICKUP_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at the counter
HELD = (RedemptionStatus.RESERVED, RedemptionStatus.FULFILLED)


@transactional
def redeem(user: User, gift_id: int, quantity: int) -> Redemption:
    """Take the points and reserve the items in one transaction."""
    gift = get_gift_for(user, gift_id)
    if not is_resident_of(user, gift.community_id):
        raise FORBIDDEN.saying("仅本社区居民可以兑换礼品")
    gift = lock_gift(gift_id)
    if gift.stock_left < quantity:
        raise OUT_OF_STOCK(details={"stock_left": gift.stock_left, "requested": quantity})
    _check_limit(gift, user.id, quantity)
    redemption = Redemption(community_id=gift.community_id, gift_id=gift.id, user_id=user.id,
                            quantity=quantity, points=gift.points_cost * quantity,
                            pickup_code=_new_pickup_code(),
                            expires_at=now() + timedelta(days=RESERVATION_DAYS))
    db.session.add(redemption)
    db.session.flush()
    moved = transfer(account_for(gift.community_id, AccountKind.RESIDENT, user.id),
                     account_for(gift.community_id, AccountKind.REDEEMED), redemption.points,
                     TransferReason.REDEEM, f"redemption:{redemption.id}",
                     f"redeem-redemption-{redemption.id}", user.id)
    redemption.transfer_id = moved.id
    gift.reserved += quantity
    _notify_ready(redemption, gift)
    return redemption


def _check_limit(gift: Gift, user_id: int, quantity: int) -> None:
    """Under the gift lock, so a resident's simultaneous taps are counted one by one."""
    if gift.per_user_limit is None:
        return
    held = db.session.scalar(select(func.coalesce(func.sum(Redemption.quantity), 0)).where(
        Redemption.gift_id == gift.id, Redemption.user_id == user_id,
        Redemption.status.in_(HELD))) or 0
    if held + quantity > gift.per_user_limit:
        raise LIMIT_EXCEEDED(
            per_user_limit=gift.per_user_limit,
            details={"per_user_limit": gift.per_user_limit, "held": held},
        )


def _new_pickup_code() -> str:
    return "".join(secrets.choice(PICKUP_ALPHABET) for _ in range(8))


def _notify_ready(redemption: Redemption, gift: Gift) -> None:
    until = redemption.expires_at.astimezone(LOCAL_TZ)
    notify(redemption.user_id, "gift_ready",
           f"「{gift.name}」×{redemption.quantity} 已为您预留，请于{until:%m月%d日 %H:%M}前"
           f"凭取货码 {redemption.pickup_code} 到社区领取",
           dedupe_key=f"gift_ready:redemption:{redemption.id}",
           data={"redemption_id": redemption.id, "at": until.isoformat()},
           page=redemption_page(redemption.id))


def redemption_page(redemption_id: int) -> str:
    """The mini-program page a notice about this redemption opens."""
    return f"pages/redemptions/detail?id={redemption_id}"


@transactional
def fulfil(actor: User, pickup_code: str) -> Redemption:
    """Hand the gift over at the counter (staff of the gift's community)."""
    found = db.session.scalar(select(Redemption).where(
        Redemption.pickup_code == pickup_code.strip().upper()))
    if found is None or not is_staff_of(actor, found.community_id):
        raise NOT_FOUND.saying("找不到该取货码")
    gift, redemption = _lock(found)
    if redemption.status == RedemptionStatus.RESERVED and redemption.expires_at <= now():
        raise RESERVATION_EXPIRED()
    redemption.fulfil(actor.id)
    gift.reserved -= redemption.quantity
    gift.fulfilled += redemption.quantity
    audit(actor.id, gift.community_id, "redemption.fulfilled", f"redemption:{redemption.id}",
          "兑换领取", before={"status": "reserved"},
          after={"status": "fulfilled", "gift_id": gift.id, "quantity": redemption.quantity})
    return redemption


@transactional
def cancel(actor: User, redemption_id: int) -> Redemption:
    """The resident before pickup, or staff: refund the points, put the items back."""
    found = db.session.get(Redemption, redemption_id)
    staff = found is not None and is_staff_of(actor, found.community_id)
    if found is None or not (staff or found.user_id == actor.id):
        raise NOT_FOUND.saying("找不到该兑换记录")
    redemption = _cancel_locked(found, actor.id, "staff" if staff else "resident")
    if staff:
        audit(actor.id, redemption.community_id, "redemption.cancelled",
              f"redemption:{redemption.id}", "工作人员取消兑换", before={"status": "reserved"},
              after={"status": "cancelled", "gift_id": redemption.gift_id,
                     "quantity": redemption.quantity,
                     "refund_transfer_id": redemption.refund_transfer_id})
    return redemption


def expire(redemption_id: int) -> bool:
    """Cancel a reservation not picked up in time (the job); False if it no longer is."""
    found = db.session.get(Redemption, redemption_id)
    if found is None:
        return False
    try:
        with unit_of_work():
            _cancel_locked(found, None, "expired", only_if_due=True)
    except ApiError:  # picked up, cancelled or extended meanwhile: nothing to do
        return False
    return True


def _cancel_locked(found: Redemption, by_user_id: int | None, reason: str,
                   only_if_due: bool = False) -> Redemption:
    gift, redemption = _lock(found)
    if only_if_due and redemption.expires_at > now():
        raise NOT_DUE()
    redemption.cancel(by_user_id, reason)
    refund = transfer(account_for(gift.community_id, AccountKind.REDEEMED),
                      account_for(gift.community_id, AccountKind.RESIDENT, redemption.user_id),
                      redemption.points, TransferReason.REFUND, f"redemption:{redemption.id}",
                      f"refund-redemption-{redemption.id}", by_user_id)
    redemption.refund_transfer_id = refund.id
    gift.reserved -= redemption.quantity
    return redemption


def _lock(found: Redemption) -> tuple[Gift, Redemption]:
    gift = lock_gift(found.gift_id)
    return gift, lock(Redemption, found.id)


def my_redemptions(user: User, status: RedemptionStatus | None = None):
    query = select(Redemption).where(Redemption.user_id == user.id)
    if status is not None:
        query = query.where(Redemption.status == status)
    return query.order_by(Redemption.id.desc())


def community_redemptions(actor: User, community_id: int,
                          status: RedemptionStatus | None = None):
    get_community(community_id)
    require_staff(actor, community_id)
    query = select(Redemption).where(Redemption.community_id == community_id)
    if status is not None:
        query = query.where(Redemption.status == status)
    return query.order_by(Redemption.id.desc())


def own_redemption(user: User, redemption_id: int) -> Redemption:
    redemption = db.session.get(Redemption, redemption_id)
    if redemption is None or redemption.user_id != user.id:
        raise NOT_FOUND.saying("找不到该兑换记录")
    if redemption.status != RedemptionStatus.RESERVED:
        redemption.require_reserved()  # a used or cancelled code is no use at the counter
    return redemption
