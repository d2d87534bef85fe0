"""The gifts' RQ jobs, scheduled in ``backend/schedule.py``: remind residents of
reservations about to lapse, and cancel (with refund) those not picked up in time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from backend import jobs
from backend.common.clock import LOCAL_TZ, now
from backend.extensions import db
from backend.gifts import redemptions
from backend.gifts.models import Gift, Redemption, RedemptionStatus
from backend.notify.services import notify

REMIND_BEFORE = timedelta(days=1)
BATCH = 500


@jobs.job
def expire_reservations() -> int:
    """Cancel every reservation past its pickup deadline, one transaction each."""
    due = list(db.session.scalars(select(Redemption.id).where(
        Redemption.status == RedemptionStatus.RESERVED, Redemption.expires_at <= now())
        .order_by(Redemption.expires_at).limit(BATCH)))
    db.session.rollback()
    return sum(redemptions.expire(redemption_id) for redemption_id in due)


@jobs.job
def remind_expiring_reservations() -> int:
    """One reminder per reservation, a day before it lapses (the dedupe key sees to once)."""
    current = now()
    rows = db.session.execute(select(Redemption, Gift.name).join(Gift).where(
        Redemption.status == RedemptionStatus.RESERVED, Redemption.reminded_at.is_(None),
        Redemption.expires_at > current, Redemption.expires_at <= current + REMIND_BEFORE)
        .order_by(Redemption.expires_at).limit(BATCH)).all()
    written = 0
    for redemption, gift_name in rows:
        redemption.reminded_at = current
        until = redemption.expires_at.astimezone(LOCAL_TZ)
        written += notify(redemption.user_id, "gift_ready",
                          f"您预订的「{gift_name}」将于{until:%m月%d日 %H:%M}过期，"
                          f"请凭取货码 {redemption.pickup_code} 尽快领取",
                          dedupe_key=f"gift_expiring:redemption:{redemption.id}",
                          data={"redemption_id": redemption.id, "at": until.isoformat()},
                          page=redemptions.redemption_page(redemption.id))
    db.session.commit()
    return written
