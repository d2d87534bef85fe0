"""The period report a clerk signs at month end (SPEC §6).

Every transfer touching a resident account falls in exactly one bucket by its reason, in
the direction it moved, so opening + issued − redeemed + refunded − expired + adjusted =
closing holds by construction; the check recomputes it anyway, beside the invariants.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from backend.auth.models import User
from backend.communities.access import require_staff
from backend.communities.services import get_community
from backend.extensions import db
from backend.gifts.checks import redeem_transfers_check
from backend.points.ledger import invariant_checks
from backend.points.models import Account, AccountKind, Transfer, TransferReason
from backend.points.periods import closed_period_check, closed_periods, local_midnight

# Bucket per reason, with the sign of a transfer *into* resident accounts.
BUCKETS = {TransferReason.SERVICE: ("issued", 1), TransferReason.DUTY: ("issued", 1),
           TransferReason.REDEEM: ("redeemed", -1), TransferReason.REFUND: ("refunded", 1),
           TransferReason.EXPIRE: ("expired", -1), TransferReason.ADJUST: ("adjusted", 1)}


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
    checks += [vars(check) for check in invariant_checks(community_id)]
    checks.append(vars(redeem_transfers_check(community_id)))
    closed = closed_periods(community_id, first_day, last_day)
    checks.append(vars(closed_period_check(closed)))
    return {**report, "checks": checks,
            "closed_periods": [f"{period.month:%Y-%m}" for period in closed]}


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
