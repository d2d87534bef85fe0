"""Parking fees and the month-end subsidy report (SPEC §8).

Money is kept in 分 (integers). The month's pool — the fees whose period is that month —
is split over the members in proportion to the shifts they completed that month; the
split is rounded down to the fen and the fen left over go, one each, to the largest
remainders (ties: fewer fen first, then member order), so the parts add up to the pool.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select

from backend.auth.models import User
from backend.common import cells
from backend.communities import access
from backend.communities.services import display_names
from backend.errors import ApiError, Forbidden
from backend.extensions import db
from backend.parking.models import Assignment, AssignmentStatus, Fee
from backend.parking.services import is_member, member_ids, parking_team


def to_fen(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def record_fee(actor: User, team_id: int, data: dict[str, Any]) -> Fee:
    """A fee collected from a car owner, recorded by a member or a manager of the team."""
    team = parking_team(team_id)
    if not (access.can_manage_team(actor, team) or is_member(actor, team_id)):
        raise Forbidden("仅本队队员、队长或社区工作人员可以登记收费")
    collector = data.get("collected_by") or actor.id
    if collector not in member_ids(team_id):
        raise ApiError("not_a_team_member", "收费人须为本队队员", details={"user_id": collector})
    fee = Fee(team_id=team_id, plate=data["plate"].upper(), period=data["period"],
              amount_fen=to_fen(data["amount"]), collected_by=collector, recorded_by=actor.id)
    db.session.add(fee)
    db.session.commit()
    return fee


def team_fees(actor: User, team_id: int, period: str | None) -> Select:
    access.require_team_manager(actor, parking_team(team_id))
    query = select(Fee).where(Fee.team_id == team_id)
    if period is not None:
        query = query.where(Fee.period == period)
    return query.order_by(Fee.id.desc())


def subsidy_report(actor: User, team_id: int, month: str) -> dict[str, Any]:
    team = parking_team(team_id)
    access.require_team_manager(actor, team)
    pool = db.session.scalar(select(func.coalesce(func.sum(Fee.amount_fen), 0)).where(
        Fee.team_id == team_id, Fee.period == month)) or 0
    served = _shifts_served(team_id, month)
    members = member_ids(team_id) + [uid for uid in served if uid not in member_ids(team_id)]
    shares = split(pool, [served.get(uid, 0) for uid in members])
    names = display_names(actor, team.community_id, members)
    items = [{"user_id": uid, "display_name": names[uid], "shifts": served.get(uid, 0),
              "amount": to_yuan(fen)} for uid, fen in zip(members, shares, strict=True)]
    return {"team_id": team_id, "month": month, "pool": to_yuan(pool),
            "total_shifts": sum(served.values()), "items": items,
            "undistributed": to_yuan(pool - sum(shares))}


def _shifts_served(team_id: int, month: str) -> dict[int, int]:
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    after = date(year + number // 12, number % 12 + 1, 1)
    return dict(db.session.execute(
        select(Assignment.user_id, func.count()).where(
            Assignment.team_id == team_id, Assignment.status == AssignmentStatus.COMPLETED,
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


def report_rows(report: dict[str, Any]) -> list[list[Any]]:
    rows = [[i["user_id"], i["display_name"], i["shifts"], str(i["amount"])]
            for i in report["items"]]
    rows.append(["", "合计", report["total_shifts"], str(report["pool"])])
    return rows


def report_csv(report: dict[str, Any]) -> bytes:
    # Names are the residents' own text: common.cells keeps formulas and controls out.
    return cells.csv_bytes([HEADER, *report_rows(report)])


def report_xlsx(report: dict[str, Any]) -> bytes:
    rows = [[Decimal(row[3]) if i == 3 else value for i, value in enumerate(row)]
            for row in report_rows(report)]
    return cells.xlsx_bytes(f"补贴{report['month']}", [HEADER, *rows])
