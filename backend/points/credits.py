"""Minting points for service and duty (SPEC §3, §6).

Three rules hold for every point created here, whichever domain asks:
- two people are on record, neither the resident who receives the points: the one who
  confirmed what was done (a leader) and the one who approved it (staff);
- one hour is paid once: a credit whose service time overlaps another credit of the same
  resident is refused, under the lock of the resident's account, so two approvals racing
  each other cannot both pay it;
- the community's daily cap counts service and duty together, by the day they were served.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.orm import aliased

from backend.common.clock import LOCAL_TZ
from backend.communities.models import Community
from backend.extensions import db
from backend.points import ledger
from backend.points.models import AccountKind, Transfer, TransferReason
from backend.refusals import FOUR_EYES_REQUIRED, TIME_CONFLICT

EARNED = (TransferReason.SERVICE, TransferReason.DUTY)


@dataclass(frozen=True)
class Credit:
    """Points earned by ``user_id`` for what was served from ``served_from`` to ``served_to``."""

    community_id: int
    user_id: int
    reason: TransferReason
    points: int  # before the daily cap
    ref: str
    idempotency_key: str
    prepared_by: int | None  # who confirmed it
    approved_by: int
    served_from: datetime
    served_to: datetime


def points_for_minutes(minutes: int, points_per_hour: int) -> int:
    """Whole points, rounded down (SPEC §6)."""
    return minutes * points_per_hour // 60


FOUR_EYES_MESSAGE = "须由两位不同的人确认和审批，且不能是获得积分的本人，请由其他工作人员办理"


def are_two_people(beneficiary_id: int, prepared_by: int | None, approved_by: int) -> bool:
    """Two different people, neither of them the resident who benefits."""
    return (prepared_by is not None and prepared_by != approved_by
            and beneficiary_id not in (prepared_by, approved_by))


def require_two_people(beneficiary_id: int, prepared_by: int | None, approved_by: int,
                       details: dict | None = None) -> None:
    if not are_two_people(beneficiary_id, prepared_by, approved_by):
        raise FOUR_EYES_REQUIRED(details=details)


def mint(credit: Credit) -> Transfer | None:
    """Credit ``credit`` (flush only): the transfer, or None when the cap leaves nothing.

    The resident's account is locked before anything is summed, so the overlap and cap
    rules see every credit committed before this one."""
    require_two_people(credit.user_id, credit.prepared_by, credit.approved_by)
    resident = ledger.account_for(credit.community_id, AccountKind.RESIDENT, credit.user_id)
    ledger.lock(resident.id)
    clash = _overlapping_credit(resident.id, credit)
    if clash is not None:
        raise TIME_CONFLICT.saying(
            "该时段已因其他服务或值班获得过积分，同一时间不能重复计分",
            details={"transfer_id": clash.id, "ref": clash.ref},
        )
    points = _capped(resident.id, credit)
    if points <= 0:
        return None
    issued = ledger.account_for(credit.community_id, AccountKind.ISSUED)
    return ledger.transfer(issued, resident, points, credit.reason, ref=credit.ref,
                           idempotency_key=credit.idempotency_key,
                           author_id=credit.approved_by, prepared_by=credit.prepared_by,
                           served=(credit.served_from, credit.served_to))


def _overlapping_credit(account_id: int, credit: Credit) -> Transfer | None:
    reversal = aliased(Transfer)
    return db.session.scalar(select(Transfer).where(
        Transfer.to_account_id == account_id, Transfer.reason.in_(EARNED),
        Transfer.reverses_id.is_(None), Transfer.idempotency_key != credit.idempotency_key,
        Transfer.served_from < credit.served_to, credit.served_from < Transfer.served_to,
        ~exists().where(reversal.reverses_id == Transfer.id)).limit(1))


def _capped(account_id: int, credit: Credit) -> int:
    cap = db.session.get(Community, credit.community_id).daily_points_cap
    if cap is None:
        return credit.points
    day = credit.served_from.astimezone(LOCAL_TZ).date()
    start = datetime.combine(day, time(), LOCAL_TZ)
    # Net of reversals, which keep the original's service time.
    signed = case((Transfer.to_account_id == account_id, Transfer.amount),
                  else_=-Transfer.amount)
    earned = db.session.scalar(select(func.coalesce(func.sum(signed), 0)).where(
        or_(Transfer.to_account_id == account_id, Transfer.from_account_id == account_id),
        Transfer.reason.in_(EARNED), Transfer.served_from >= start,
        Transfer.served_from < start + timedelta(days=1))) or 0
    return max(0, min(credit.points, cap - earned))
