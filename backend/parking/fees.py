"""Parking fees and the month-end subsidy report (SPEC §8).

Money is kept in 分 (integers). The month's pool — the fees whose period is that month —
is split over the members in proportion to the shifts they completed that month; the
split is rounded down to the fen and the fen left over go, one each, to the largest
remainders (ties: fewer fen first, then member order), so the parts add up to the pool.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import aliased

from backend.auth.models import User
from backend.common import cells
from backend.common.audit import audit
from backend.common.replica import report_reads
from backend.common.transactions import lock, transactional
from backend.communities import access
from backend.communities.models import Team
from backend.communities.services import display_names
from backend.extensions import db
from backend.parking.models import SERVED, Assignment, Fee
from backend.parking.services import member_ids, month_bounds, parking_team
from backend.refusals import (
    DUPLICATE_FEE,
    FEE_ALREADY_VOID,
    FEE_IS_VOID,
    NOT_A_TEAM_MEMBER,
    NOT_FOUND,
)


def to_fen(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


@transactional
def record_fee(actor: User, team_id: int, data: dict[str, Any]) -> Fee:
    """A fee collected from a car owner, recorded by the team's leader or staff (audited).

    The same plate and month twice is refused: a second payment is rare, a double entry is
    not (void the first if it was wrong)."""
    team = parking_team(team_id)
    access.require_team_manager(actor, team)
    collector = data.get("collected_by") or actor.id
    if collector not in member_ids(team_id):
        raise NOT_A_TEAM_MEMBER(details={"user_id": collector})
    plate = data["plate"].upper()
    duplicate = db.session.scalar(_standing_fees(team_id).where(
        Fee.plate == plate, Fee.period == data["period"]).limit(1))
    if duplicate is not None:
        raise DUPLICATE_FEE(plate=plate, period=data['period'], details={"fee_id": duplicate.id})
    fee = Fee(team_id=team_id, plate=plate, period=data["period"],
              amount_fen=to_fen(data["amount"]), collected_by=collector, recorded_by=actor.id)
    db.session.add(fee)
    db.session.flush()
    audit(actor.id, team.community_id, "fee.recorded", f"fee:{fee.id}", "登记停车费",
          after={"plate": fee.plate, "period": fee.period, "amount": str(to_yuan(fee.amount_fen)),
                 "collected_by": collector})
    return fee


@transactional
def void_fee(actor: User, fee_id: int, reason: str) -> Fee:
    """Cancel a wrong entry with a second entry of the opposite amount (never an edit)."""
    fee = lock(Fee, fee_id)
    team = db.session.get(Team, fee.team_id) if fee is not None else None
    if team is None or not (access.can_manage_team(actor, team)
                            or access.can_see_community(actor, team.community_id)):
        raise NOT_FOUND.saying("找不到该收费记录")
    access.require_team_manager(actor, team)
    if fee.is_void:
        raise FEE_IS_VOID()
    if db.session.scalar(select(Fee.id).where(Fee.voids_id == fee.id)) is not None:
        raise FEE_ALREADY_VOID()
    void = Fee(team_id=fee.team_id, plate=fee.plate, period=fee.period,
               amount_fen=-fee.amount_fen, collected_by=fee.collected_by,
               recorded_by=actor.id, voids_id=fee.id, void_reason=reason)
    db.session.add(void)
    db.session.flush()
    audit(actor.id, team.community_id, "fee.voided", f"fee:{fee.id}", reason,
          before={"amount": str(to_yuan(fee.amount_fen))},
          after={"amount": "0.00", "void_fee_id": void.id})
    return void


def _standing_fees(team_id: int) -> Select:
    """Fees not cancelled by a void (voids themselves excluded)."""
    void = aliased(Fee)
    return select(Fee).where(Fee.team_id == team_id, Fee.voids_id.is_(None),
                             ~exists().where(void.voids_id == Fee.id))


def team_fees(actor: User, team_id: int, period: str | None) -> Select:
    access.require_team_manager(actor, parking_team(team_id))
    query = select(Fee).where(Fee.team_id == team_id)
    if period is not None:
        query = query.where(Fee.period == period)
    return query.order_by(Fee.id.desc())


@report_reads  # one snapshot on the replica when it keeps up
def subsidy_report(actor: User, team_id: int, month: str) -> dict[str, Any]:
    team = parking_team(team_id)
    access.require_team_manager(actor, team)
    entries = list(db.session.scalars(select(Fee).where(
        Fee.team_id == team_id, Fee.period == month).order_by(Fee.id)))
    # Voids carry the opposite amount, so the pool is the plain sum.
    pool = sum(fee.amount_fen for fee in entries)
    served = _shifts_served(team_id, month)
    members = member_ids(team_id) + [uid for uid in served if uid not in member_ids(team_id)]
    shares = split(pool, [served.get(uid, 0) for uid in members])
    names = display_names(actor, team.community_id, members)
    items = [{"user_id": uid, "display_name": names[uid], "shifts": served.get(uid, 0),
              "amount": to_yuan(fen)} for uid, fen in zip(members, shares, strict=True)]
    voids = [{"fee_id": fee.voids_id, "plate": fee.plate, "amount": to_yuan(-fee.amount_fen),
              "reason": fee.void_reason} for fee in entries if fee.is_void]
    return {"team_id": team_id, "month": month, "pool": to_yuan(pool),
            "fees_recorded": sum(not fee.is_void for fee in entries), "voids": voids,
            "total_shifts": sum(served.values()), "items": items,
            "undistributed": to_yuan(pool - sum(shares))}


def _shifts_served(team_id: int, month: str) -> dict[int, int]:
    first, after = month_bounds(month)
    return dict(db.session.execute(
        select(Assignment.user_id, func.count()).where(
            Assignment.team_id == team_id, Assignment.status.in_(SERVED),
            Assignment.date >= first, Assignment.date < after)
        .group_by(Assignment.user_id)).all())


def split(pool_fen: int, weights: list[int]) -> list[int]:
    """``pool_fen`` in proportion to ``weights``, in whole fen adding up to the pool
    (nothing is handed out when nobody served)."""
    total = sum(weights)
    if total == 0:
        return [0] * len(weights)
    floors = [pool_fen * w // total for w in weights]
    left = pool_fen - sum(floors)
    by_remainder = sorted(range(len(weights)),
                          key=lambda i: (-(pool_fen * weights[i] % total), floors[i], i))
    for i in by_remainder[:left]:
        floors[i] += 1
    return floors


HEADER = ["队员编号", "队员", "完成班次", "补贴（元）"]


VOID_HEADER = ["作废收费", "车牌", "原因", "金额（元）"]


def report_rows(report: dict[str, Any]) -> list[list[Any]]:
    rows = [[i["user_id"], i["display_name"], i["shifts"], str(i["amount"])]
            for i in report["items"]]
    rows.append(["", "合计", report["total_shifts"], str(report["pool"])])
    if report["voids"]:
        rows += [[], VOID_HEADER]
        rows += [[v["fee_id"], v["plate"], v["reason"], str(-v["amount"])]
                 for v in report["voids"]]
    return rows


def report_csv(report: dict[str, Any]) -> bytes:
    # Names are the residents' own text: common.cells keeps formulas and controls out.
    return cells.csv_bytes([HEADER, *report_rows(report)])


def report_xlsx(report: dict[str, Any]) -> bytes:
    rows = [[Decimal(value) if i == 3 and row[0] != VOID_HEADER[0] else value
             for i, value in enumerate(row)] for row in report_rows(report)]
    return cells.xlsx_bytes(f"补贴{report['month']}", [HEADER, *rows])
