"""Duty points (SPEC §3, §8): a completed shift is signed off by a leader at the team's
rate, which is frozen then, and approved by staff, who mint the points. As with service
hours, the two are different people and neither holds the shift: a leader's own shifts
are signed off by another leader or by staff."""

from __future__ import annotations

from sqlalchemy import Select, select

from backend.auth.models import User
from backend.common.audit import audit
from backend.common.transactions import lock_where, transactional
from backend.communities import access
from backend.communities.services import attach_display_names
from backend.errors import ApiError
from backend.notify.services import notify
from backend.parking.duty import settings_row
from backend.parking.models import Assignment, AssignmentStatus, Roster
from backend.parking.services import month_bounds, parking_team
from backend.points.credits import Credit, are_two_people, mint
from backend.points.models import TransferReason
from backend.refusals import (
    FORBIDDEN,
    FOUR_EYES_REQUIRED,
    NOT_FOUND,
    SHIFT_CHANGED,
    SHIFT_NOT_CONFIRMED,
)


@transactional
def confirm_month(actor: User, team_id: int, month: str) -> list[Assignment]:
    """Sign off the team's completed shifts of ``month`` (not the caller's own)."""
    team = parking_team(team_id)
    if not (access.is_leader_of(actor, team.id) or access.is_staff_of(actor, team.community_id)):
        raise FORBIDDEN.saying("仅本队队长或社区工作人员可以确认值班")
    first, after = month_bounds(month)
    rows = lock_where(
        select(Assignment).where(Assignment.team_id == team.id,
                                 Assignment.status == AssignmentStatus.COMPLETED,
                                 Assignment.date >= first, Assignment.date < after,
                                 Assignment.user_id != actor.id)
        .order_by(Assignment.id))
    rate = settings_row(team.id).points_per_shift
    for assignment in rows:
        assignment.confirm(actor.id, rate)
    if rows:
        audit(actor.id, team.community_id, "duty.confirmed", f"team:{team.id}",
              f"确认{month}值班", after={"assignment_ids": [a.id for a in rows],
                                                "points_per_shift": rate})
    return rows


def served_shifts(actor: User, community_id: int, status: AssignmentStatus | None,
                  month: str | None) -> Select:
    """Staff's work list, e.g. every confirmed shift waiting for approval."""
    access.require_staff(actor, community_id)
    query = (select(Assignment).join(Roster, Roster.id == Assignment.roster_id)
             .where(Roster.community_id == community_id,
                    Assignment.status.in_((AssignmentStatus.COMPLETED,
                                           AssignmentStatus.CONFIRMED,
                                           AssignmentStatus.APPROVED))))
    if status is not None:
        query = query.where(Assignment.status == status)
    if month is not None:
        first, after = month_bounds(month)
        query = query.where(Assignment.date >= first, Assignment.date < after)
    return query.order_by(Assignment.date, Assignment.starts_at, Assignment.id)


@transactional
def approve_shifts(actor: User, ids: list[int], reviewed: list[dict] | None = None
                   ) -> list[Assignment]:
    """Staff approve signed-off shifts; each credits its duty points exactly once."""
    rows = _decidable(actor, ids)
    pending = [a.id for a in rows if a.status not in (AssignmentStatus.CONFIRMED,
                                                      AssignmentStatus.APPROVED)]
    if pending:
        raise SHIFT_NOT_CONFIRMED(details={"assignment_ids": pending})
    to_credit = [a for a in rows if a.status == AssignmentStatus.CONFIRMED]
    refused = [a.id for a in to_credit
               if not are_two_people(a.user_id, a.confirmed_by, actor.id)]
    if refused:
        raise FOUR_EYES_REQUIRED(details={"assignment_ids": refused})
    shown = {row["id"]: row["points"] for row in reviewed or []}
    changed = [a.id for a in to_credit if a.id in shown and shown[a.id] != a.points_per_shift]
    if changed:
        raise SHIFT_CHANGED(details={"assignment_ids": changed})
    for assignment in to_credit:
        _credit(actor, assignment)
    return rows


def _credit(actor: User, assignment: Assignment) -> None:
    community_id = assignment.roster.community_id
    credit = Credit(
        community_id=community_id, user_id=assignment.user_id, reason=TransferReason.DUTY,
        points=assignment.points_per_shift or 0, ref=f"assignment:{assignment.id}",
        idempotency_key=f"duty-assignment-{assignment.id}",
        prepared_by=assignment.confirmed_by, approved_by=actor.id,
        served_from=assignment.starts_at, served_to=assignment.ends_at)
    try:
        moved = mint(credit)
    except ApiError as error:
        error.details = {**error.details, "assignment_ids": [assignment.id]}
        raise
    points = moved.amount if moved is not None else 0
    assignment.approve(actor.id, points, moved.id if moved is not None else None)
    audit(actor.id, community_id, "duty.approved", f"assignment:{assignment.id}", "审批值班",
          before={"status": "confirmed", "points_per_shift": assignment.points_per_shift},
          after={"status": "approved", "points": points})
    if points > 0:
        notify(assignment.user_id, "points_credited",
               f"值班 {assignment.label} 已审批，获得{points}积分",
               dedupe_key=f"points_credited:assignment:{assignment.id}",
               data={"assignment_id": assignment.id, "points": points},
               page="pages/points/index")


def _decidable(actor: User, ids: list[int]) -> list[Assignment]:
    """The shifts, locked in id order; another community's (or a missing) id is a 404."""
    if not access.staff_community_ids(actor):
        raise FORBIDDEN.saying("只有社区工作人员可以审批值班积分")
    unique_ids = sorted(set(ids))
    rows = lock_where(
        select(Assignment).where(Assignment.id.in_(unique_ids)).order_by(Assignment.id))
    visible = {a.id for a in rows if access.is_staff_of(actor, a.roster.community_id)}
    if len(visible) != len(unique_ids):
        raise NOT_FOUND.saying(
            "找不到该值班记录", details={"assignment_ids": sorted(set(unique_ids) - visible)},
        )
    return rows



def with_display_names(actor: User, rows: list[Assignment]) -> list[Assignment]:
    return attach_display_names(actor, rows, lambda row: row.roster.community_id)
