"""Monthly close (SPEC §6): once a month is closed, no transfer may be dated inside it.

``ledger.transfer`` refuses a transfer dated in a closed month (``period_closed``);
corrections go into the open month. Closing records what the month held, and the
reconciliation report re-counts it to show that nothing was written into it afterwards.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from backend.auth.models import User
from backend.common.audit import audit
from backend.common.clock import local_midnight, now
from backend.common.transactions import transactional
from backend.communities.access import require_staff
from backend.communities.services import get_community
from backend.extensions import db
from backend.points.ledger import Check
from backend.points.models import ClosedPeriod, Transfer
from backend.refusals import PERIOD_ALREADY_CLOSED, PERIOD_NOT_ENDED

# A transfer is dated when it takes its locks and committed a moment later: waiting a
# little after midnight lets any transaction begun inside the month finish first (if one
# ever did not, reconciliation's closed_periods_unchanged check would show it).
IN_FLIGHT_GRACE = timedelta(minutes=10)


@transactional
def close_period(actor: User, community_id: int, month: date) -> ClosedPeriod:
    get_community(community_id)
    require_staff(actor, community_id)
    start, end = month_bounds(month)
    if now() < end + IN_FLIGHT_GRACE:
        raise PERIOD_NOT_ENDED(month=month, details={"period": f"{month:%Y-%m}"})
    if _closed(community_id, month) is not None:
        raise PERIOD_ALREADY_CLOSED(month=month, details={"period": f"{month:%Y-%m}"})
    count, total = _month_totals(community_id, start, end)
    period = ClosedPeriod(community_id=community_id, month=month, transfer_count=count,
                          amount_total=total, closed_by=actor.id)
    db.session.add(period)
    db.session.flush()
    audit(actor.id, community_id, "period.closed", f"period:{month:%Y-%m}", "月末结账",
          after={"transfer_count": count, "amount_total": total})
    return period


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's, in community time, as UTC."""
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return local_midnight(month), local_midnight(following)


def _closed(community_id: int, month: date) -> ClosedPeriod | None:
    return db.session.scalar(select(ClosedPeriod).filter_by(community_id=community_id,
                                                           month=month))


def _month_totals(community_id: int, start: datetime, end: datetime) -> tuple[int, int]:
    count, total = db.session.execute(select(
        func.count(), func.coalesce(func.sum(Transfer.amount), 0)).where(
        Transfer.community_id == community_id, Transfer.created_at >= start,
        Transfer.created_at < end)).one()
    return count, total


def closed_periods(community_id: int, first_day: date, last_day: date) -> list[ClosedPeriod]:
    return list(db.session.scalars(select(ClosedPeriod).where(
        ClosedPeriod.community_id == community_id,
        ClosedPeriod.month >= first_day.replace(day=1), ClosedPeriod.month <= last_day)
        .order_by(ClosedPeriod.month)))


def closed_period_check(periods: list[ClosedPeriod]) -> Check:
    """Each closed month still holds exactly what it held when it was closed."""
    changed = []
    for period in periods:
        start, end = month_bounds(period.month)
        if _month_totals(period.community_id, start, end) != (period.transfer_count,
                                                              period.amount_total):
            changed.append(f"{period.month:%Y-%m}")
    names = ", ".join(f"{p.month:%Y-%m}" for p in periods) or "none"
    return Check("closed_periods_unchanged", not changed,
                 f"changed after closing: {changed}" if changed else f"closed: {names}")
