"""Reversing a mistaken transfer (SPEC §6): one staff member asks, another applies it.

The reversal is a new transfer the other way, pointing at the original (never an edit).
It can be refused late: the resident may have spent the points meanwhile
(``insufficient_points``), or the transfer may have been reversed already. Redemptions and
their refunds are undone by cancelling the redemption instead, and a reversal is never
reversed itself.
"""

from __future__ import annotations

from sqlalchemy import Select, or_, select

from backend.auth.models import User
from backend.common.audit import audit
from backend.common.transactions import lock, transactional
from backend.communities.access import require_staff, staff_community_ids
from backend.extensions import db
from backend.points.credits import require_two_people
from backend.points.ledger import reverse
from backend.points.models import Account, Reversal, ReversalStatus, Transfer, TransferReason
from backend.refusals import (
    ALREADY_REVERSED,
    FORBIDDEN,
    FOUR_EYES_REQUIRED,
    NOT_FOUND,
    NOT_REVERSIBLE,
)

REVERSIBLE = (TransferReason.SERVICE, TransferReason.DUTY, TransferReason.ADJUST,
              TransferReason.EXPIRE)


@transactional
def request_reversal(actor: User, transfer_id: int, reason: str) -> Reversal:
    original = _staff_transfer(actor, transfer_id)
    if original.reason not in REVERSIBLE or original.reverses_id is not None:
        raise NOT_REVERSIBLE(details={"reason": original.reason.value})
    _refuse_reversed(original)
    if _resident_of(original) == actor.id:
        raise FOUR_EYES_REQUIRED.saying("不能冲正自己的积分，请由其他工作人员办理")
    reversal = Reversal(community_id=original.community_id, transfer_id=original.id,
                        reason=reason, requested_by=actor.id)
    db.session.add(reversal)
    db.session.flush()
    audit(actor.id, original.community_id, "reversal.requested", f"transfer:{original.id}",
          reason, after={"reversal_id": reversal.id, "amount": original.amount,
                         "status": "pending"})
    return reversal


@transactional
def approve_reversal(actor: User, reversal_id: int) -> Reversal:
    """Write the reversing transfer (a different staff member than the one who asked)."""
    reversal = lock(Reversal, reversal_id)
    _require_staff_somewhere(actor)
    if reversal is None or reversal.community_id not in staff_community_ids(actor):
        raise NOT_FOUND.saying("找不到该冲正申请")
    original = db.session.get(Transfer, reversal.transfer_id)
    require_two_people(_resident_of(original) or -1, reversal.requested_by, actor.id)
    reversal.require_pending()
    _refuse_reversed(original)
    moved = reverse(original, f"reversal-{original.id}", actor.id, reversal.requested_by)
    reversal.apply(actor.id, moved.id)
    audit(actor.id, original.community_id, "reversal.approved", f"transfer:{original.id}",
          reversal.reason, before={"status": "pending"},
          after={"status": "applied", "reversing_transfer_id": moved.id,
                 "amount": original.amount})
    return reversal


def _staff_transfer(actor: User, transfer_id: int) -> Transfer:
    _require_staff_somewhere(actor)
    transfer = db.session.get(Transfer, transfer_id)
    if transfer is None or transfer.community_id not in staff_community_ids(actor):
        raise NOT_FOUND.saying("找不到该积分流水")
    return transfer


def _require_staff_somewhere(actor: User) -> None:
    if not staff_community_ids(actor):
        raise FORBIDDEN.saying("仅社区工作人员可以冲正积分")


def _refuse_reversed(original: Transfer) -> None:
    if db.session.scalar(select(Transfer.id).where(Transfer.reverses_id == original.id)):
        raise ALREADY_REVERSED()


def _resident_of(original: Transfer) -> int | None:
    """The resident whose account the transfer touched (one side is always a resident)."""
    return db.session.scalar(select(Account.user_id).where(
        Account.id.in_((original.from_account_id, original.to_account_id)),
        Account.user_id.is_not(None)).limit(1))


def community_transfers(actor: User, community_id: int, user_id: int | None,
                        reason: TransferReason | None) -> Select:
    require_staff(actor, community_id)
    query = select(Transfer).where(Transfer.community_id == community_id)
    if user_id is not None:
        accounts = select(Account.id).where(Account.community_id == community_id,
                                            Account.user_id == user_id)
        query = query.where(or_(Transfer.from_account_id.in_(accounts),
                                Transfer.to_account_id.in_(accounts)))
    if reason is not None:
        query = query.where(Transfer.reason == reason)
    return query.order_by(Transfer.id.desc())


def community_reversals(actor: User, community_id: int, status: ReversalStatus | None
                        ) -> Select:
    require_staff(actor, community_id)
    query = select(Reversal).where(Reversal.community_id == community_id)
    if status is not None:
        query = query.where(Reversal.status == status)
    return query.order_by(Reversal.id.desc())
