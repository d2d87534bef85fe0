"""The period report a clerk signs at month end (SPEC §6).

Every transfer touching a resident account falls in exactly one bucket by its reason, in
the direction it moved, so opening + issued − redeemed + refunded − expired + adjusted =
closing holds by construction; the check recomputes it anyway, beside the invariants.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import aliased

from backend.auth.models import User
from backend.common.clock import local_midnight
from backend.common.replica import report_reads
from backend.communities.access import require_staff
from backend.communities.services import get_community
from backend.extensions import db
from backend.points.ledger import Check, invariant_checks
from backend.points.models import Account, AccountKind, Transfer, TransferReason
from backend.points.periods import closed_period_check, closed_periods

# Money-like points enter resident accounts from these: minted, not moved back.
MINTING_ACCOUNTS = (AccountKind.ISSUED, AccountKind.ADJUSTMENTS, AccountKind.EXPIRED)

# Bucket per reason, with the sign of a transfer *into* resident accounts.
BUCKETS = {TransferReason.SERVICE: ("issued", 1), TransferReason.DUTY: ("issued", 1),
           TransferReason.REDEEM: ("redeemed", -1), TransferReason.REFUND: ("refunded", 1),
           TransferReason.EXPIRE: ("expired", -1), TransferReason.ADJUST: ("adjusted", 1)}

# The domains' parts of the invariants (``<domain>/checks.py``), registered by create_app:
# points sits below those domains and never imports them.
BACKING_CHECKS: dict[str, Callable[[int], Check]] = {}


def register_backing_check(check: Callable[[int], Check]) -> None:
    """Add a domain's check to every report (idempotent: keyed by the function's name)."""
    BACKING_CHECKS[f"{check.__module__}.{check.__name__}"] = check


@report_reads  # one snapshot on the replica when it keeps up
def reconcile(actor: User, community_id: int, first_day: date, last_day: date) -> dict[str, Any]:
    get_community(community_id)
    require_staff(actor, community_id)
    start, end = local_midnight(first_day), local_midnight(last_day, next_day=True)
    flows = _resident_flows(community_id, start, end)
    report: dict[str, Any] = {"opening_total": _resident_total(community_id, start),
                              "closing_total": _resident_total(community_id, end),
                              "issued": 0, "redeemed": 0, "refunded": 0, "expired": 0,
                              "adjusted": 0}
    for reason, net_into_residents in flows.items():
        bucket, sign = BUCKETS[reason]
        report[bucket] += sign * net_into_residents
    expected = (report["opening_total"] + report["issued"] - report["redeemed"]
                + report["refunded"] - report["expired"] + report["adjusted"])
    checks = [{"name": "period_identity", "ok": expected == report["closing_total"],
               "detail": f"opening + movements = {expected}, closing = "
                         f"{report['closing_total']}"}]
    checks += [vars(check) for check in standing_checks(community_id)]
    closed = closed_periods(community_id, first_day, last_day)
    checks.append(vars(closed_period_check(closed)))
    return {**report, "checks": checks,
            "closed_periods": [f"{period.month:%Y-%m}" for period in closed],
            "reversals": _reversals_in(community_id, start, end)}


def standing_checks(community_id: int) -> list[Check]:
    """What must hold of a community's ledger at any moment, whatever the period."""
    return [*invariant_checks(community_id),
            *(check(community_id) for check in BACKING_CHECKS.values()),
            minted_by_two_people_check(community_id), reversals_check(community_id)]


def ledger_checks(community_id: int) -> list[Check]:
    """The standing checks and every closed month's, e.g. for ``flask check-ledger``."""
    closed = closed_periods(community_id, date.min, date.max)
    return [*standing_checks(community_id), closed_period_check(closed)]


def minted_by_two_people_check(community_id: int) -> Check:
    """SPEC §3: every transfer that mints points into a resident's account (service, duty,
    an adjustment, a reversal giving points back) has two different people on record,
    neither of them that resident."""
    source, target = aliased(Account), aliased(Account)
    orphans = list(db.session.scalars(
        select(Transfer.id).join(source, source.id == Transfer.from_account_id)
        .join(target, target.id == Transfer.to_account_id)
        .where(Transfer.community_id == community_id, target.kind == AccountKind.RESIDENT,
               source.kind.in_(MINTING_ACCOUNTS),
               or_(Transfer.prepared_by.is_(None), Transfer.author_id.is_(None),
                   Transfer.prepared_by == Transfer.author_id,
                   Transfer.prepared_by == target.user_id,
                   Transfer.author_id == target.user_id))
        .order_by(Transfer.id).limit(10)))
    return Check("minted_transfers_have_two_people", not orphans,
                 f"transfers minted without two other people: {orphans}" if orphans
                 else "every minted transfer has two people on record, neither the resident")


def reversals_check(community_id: int) -> Check:
    """Each reversal undoes a transfer of the same community: same amount and reason, the
    accounts swapped."""
    original = aliased(Transfer)
    wrong = list(db.session.scalars(
        select(Transfer.id).outerjoin(original, original.id == Transfer.reverses_id)
        .where(Transfer.community_id == community_id, Transfer.reverses_id.is_not(None),
               or_(original.id.is_(None), original.community_id != Transfer.community_id,
                   original.amount != Transfer.amount, original.reason != Transfer.reason,
                   original.from_account_id != Transfer.to_account_id,
                   original.to_account_id != Transfer.from_account_id))
        .order_by(Transfer.id).limit(10)))
    return Check("reversals_match_originals", not wrong,
                 f"reversals that do not mirror their original: {wrong}" if wrong
                 else "every reversal mirrors the transfer it undoes")


def _reversals_in(community_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Transfer.id, Transfer.reverses_id, Transfer.amount, Transfer.reason)
        .where(Transfer.community_id == community_id, Transfer.reverses_id.is_not(None),
               Transfer.created_at >= start, Transfer.created_at < end)
        .order_by(Transfer.id))
    return [{"transfer_id": id_, "reverses_id": reverses, "amount": amount,
             "reason": reason.value} for id_, reverses, amount, reason in rows]


def _net_into_residents():
    """+amount for a transfer into a resident account, −amount out of one, 0 otherwise."""
    source, target = aliased(Account), aliased(Account)
    signed = (case((target.kind == AccountKind.RESIDENT, Transfer.amount), else_=0)
              - case((source.kind == AccountKind.RESIDENT, Transfer.amount), else_=0))
    query = (select().select_from(Transfer)
             .join(source, source.id == Transfer.from_account_id)
             .join(target, target.id == Transfer.to_account_id))
    return signed, query


def _resident_total(community_id: int, before: datetime) -> int:
    signed, query = _net_into_residents()
    return db.session.scalar(query.add_columns(func.coalesce(func.sum(signed), 0)).where(
        Transfer.community_id == community_id, Transfer.created_at < before)) or 0


def _resident_flows(community_id: int, start: datetime, end: datetime) -> dict:
    signed, query = _net_into_residents()
    rows = db.session.execute(query.add_columns(Transfer.reason, func.sum(signed)).where(
        Transfer.community_id == community_id, Transfer.created_at >= start,
        Transfer.created_at < end).group_by(Transfer.reason)).all()
    return {reason: total or 0 for reason, total in rows}
