"""Swap requests (member asks → the other member accepts → the leader approves) and the
leader's manual edits. Every step that could put someone on a shift re-checks every hard
rule against the database (``swap_conflict``).

Locks: the assignment first, then the receiving member's team row, then the request —
the same order everywhere, so concurrent swaps and edits neither deadlock nor together
give one member two shifts the rules forbid.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update

from backend.auth.models import User
from backend.common.audit import audit
from backend.common.clock import now
from backend.common.transactions import lock, lock_where, transactional
from backend.communities import access
from backend.communities.models import Team, TeamMember
from backend.errors import ValidationFailed
from backend.extensions import db
from backend.notify.services import notify
from backend.parking.models import (
    OPEN_SWAP,
    Assignment,
    AssignmentStatus,
    Roster,
    RosterStatus,
    SwapRequest,
    SwapStatus,
)
from backend.parking.rules import RULE_MESSAGES, broken_rules
from backend.parking.services import SHIFTS_PAGE, availability_of, leader_ids, visible_roster
from backend.refusals import (
    FORBIDDEN,
    NOT_A_TEAM_MEMBER,
    NOT_FOUND,
    ROSTER_NOT_PUBLISHED,
    SHIFT_STARTED,
    SWAP_ALREADY_REQUESTED,
    SWAP_CONFLICT,
    SWAP_STALE,
)

NEARBY = timedelta(days=8)  # wider than a week plus the longest shift


def hard_rule_breaks(user_id: int, assignment: Assignment) -> list[str]:
    """The hard rules ``user_id`` would break by holding ``assignment``."""
    others = db.session.scalars(
        select(Assignment).join(Roster, Roster.id == Assignment.roster_id)
        .where(Assignment.user_id == user_id, Assignment.id != assignment.id,
               or_(Roster.status == RosterStatus.PUBLISHED,
                   Roster.id == assignment.roster_id),
               Assignment.date >= assignment.date - NEARBY,
               Assignment.date <= assignment.date + NEARBY))
    return broken_rules(assignment.as_shift(), [o.as_shift() for o in others],
                        availability_of(assignment.team_id, user_id))


def _refuse_if_breaking(user_id: int, assignment: Assignment) -> None:
    broken = hard_rule_breaks(user_id, assignment)
    if broken:
        raise SWAP_CONFLICT.saying(
            "；".join(RULE_MESSAGES[r] for r in broken),
            details={"rules": broken, "user_id": user_id},
        )


def _lock_assignment(assignment_id: int) -> Assignment:
    assignment = lock(Assignment, assignment_id)
    if assignment is None:
        raise NOT_FOUND.saying("找不到该班次")
    return assignment


def _lock_member(team_id: int, user_id: int) -> None:
    """Serialise rule checks for one member (their team row is the lock)."""
    found = lock_where(select(TeamMember.id).where(
        TeamMember.team_id == team_id, TeamMember.user_id == user_id))
    if not found:
        raise NOT_A_TEAM_MEMBER.saying("对方不是本队队员", details={"user_id": user_id})


def _visible_assignment(user: User, assignment_id: int) -> Assignment:
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        raise NOT_FOUND.saying("找不到该班次")
    visible_roster(user, assignment.roster_id)
    return assignment


def _require_upcoming(assignment: Assignment) -> None:
    if assignment.status != AssignmentStatus.SCHEDULED or assignment.starts_at <= now():
        raise SHIFT_STARTED()


@transactional
def request_swap(actor: User, assignment_id: int, to_user_id: int) -> SwapRequest:
    assignment = _visible_assignment(actor, assignment_id)
    if assignment.user_id != actor.id:
        raise FORBIDDEN.saying("只有该班次的值班队员可以申请换班")
    if to_user_id == actor.id:
        raise ValidationFailed({"to_user_id": ["不能与自己换班"]})
    assignment = _lock_assignment(assignment_id)
    if not db.session.get(Roster, assignment.roster_id).is_published:
        raise ROSTER_NOT_PUBLISHED()
    _require_upcoming(assignment)
    _lock_member(assignment.team_id, to_user_id)
    _refuse_if_breaking(to_user_id, assignment)
    if db.session.scalar(select(SwapRequest.id).where(
            SwapRequest.assignment_id == assignment.id, SwapRequest.status.in_(OPEN_SWAP))):
        raise SWAP_ALREADY_REQUESTED()
    swap = SwapRequest(assignment_id=assignment.id, team_id=assignment.team_id,
                       from_user_id=actor.id, to_user_id=to_user_id)
    db.session.add(swap)
    db.session.flush()
    notify(to_user_id, "swap_request", f"队友请您代班：{assignment.label}",
           dedupe_key=f"swap_request:{swap.id}:{to_user_id}",
           data={"swap_request_id": swap.id}, page=SHIFTS_PAGE)
    return swap


def _visible_swap(user: User, swap_id: int) -> SwapRequest:
    swap = db.session.get(SwapRequest, swap_id)
    if swap is None:
        raise NOT_FOUND.saying("找不到该换班申请")
    team = db.session.get(Team, swap.team_id)
    related = user.id in (swap.from_user_id, swap.to_user_id)
    if not related and not (access.is_staff_of(user, team.community_id)
                            or access.is_resident_of(user, team.community_id)
                            or access.is_leader_of(user, team.id)):
        raise NOT_FOUND.saying("找不到该换班申请")
    return swap


def _locked(swap: SwapRequest) -> tuple[Assignment, SwapRequest]:
    assignment = _lock_assignment(swap.assignment_id)
    return assignment, lock(SwapRequest, swap.id)


def _recheck(assignment: Assignment, swap: SwapRequest) -> None:
    """The shift must still be the requester's, still ahead, and still fit the receiver."""
    if assignment.user_id != swap.from_user_id:
        swap.go_stale()
        # Two steps on purpose: the lapsed request stays lapsed although the use case
        # is refused (the refusal rolls back nothing else: nothing else was written).
        db.session.commit()
        raise SWAP_STALE()
    _require_upcoming(assignment)
    _lock_member(assignment.team_id, swap.to_user_id)
    _refuse_if_breaking(swap.to_user_id, assignment)


@transactional
def accept_swap(actor: User, swap_id: int) -> SwapRequest:
    swap = _visible_swap(actor, swap_id)
    if actor.id != swap.to_user_id:
        raise FORBIDDEN.saying("只有被邀请的队员可以接受换班")
    assignment, swap = _locked(swap)
    swap.require_pending()
    _recheck(assignment, swap)
    swap.accept()
    for leader in leader_ids(swap.team_id):
        notify(leader, "swap_request", f"换班待审批：{assignment.label}",
               dedupe_key=f"swap_approval:{swap.id}:{leader}",
               data={"swap_request_id": swap.id}, page=SHIFTS_PAGE)
    return swap


@transactional
def approve_swap(actor: User, swap_id: int) -> SwapRequest:
    swap = _visible_swap(actor, swap_id)
    access.require_team_manager(actor, db.session.get(Team, swap.team_id))
    assignment, swap = _locked(swap)
    swap.require_accepted()
    _recheck(assignment, swap)
    swap.approve(actor.id)
    audit(actor.id, db.session.get(Team, swap.team_id).community_id, "swap.approved",
          f"assignment:{assignment.id}", "批准换班", before={"user_id": swap.from_user_id},
          after={"user_id": swap.to_user_id, "swap_request_id": swap.id})
    for user_id in (swap.from_user_id, swap.to_user_id):
        notify(user_id, "swap_request", f"换班已批准：{assignment.label}",
               dedupe_key=f"swap_approved:{swap.id}:{user_id}",
               data={"swap_request_id": swap.id}, page=SHIFTS_PAGE)
    return swap


@transactional
def decline_swap(actor: User, swap_id: int) -> SwapRequest:
    """The receiver declines, the requester withdraws, or a manager refuses."""
    swap = _visible_swap(actor, swap_id)
    manager = access.can_manage_team(actor, db.session.get(Team, swap.team_id))
    if actor.id not in (swap.from_user_id, swap.to_user_id) and not manager:
        raise FORBIDDEN.saying("无权处理该换班申请")
    _, swap = _locked(swap)
    swap.decline(actor.id)
    return swap


@transactional
def edit_assignment(actor: User, assignment_id: int, user_id: int | None) -> Assignment:
    """The leader puts someone on a shift (or empties it), under the same hard rules."""
    assignment = _visible_assignment(actor, assignment_id)
    access.require_team_manager(actor, db.session.get(Team, assignment.team_id))
    assignment = _lock_assignment(assignment_id)
    published = db.session.get(Roster, assignment.roster_id).is_published
    if published:
        _require_upcoming(assignment)
    if user_id is not None and user_id != assignment.user_id:
        _lock_member(assignment.team_id, user_id)
        _refuse_if_breaking(user_id, assignment)
    changed = user_id != assignment.user_id
    if changed and published:
        audit(actor.id, db.session.get(Team, assignment.team_id).community_id,
              "assignment.edited", f"assignment:{assignment.id}", "调整已发布的排班",
              before={"user_id": assignment.user_id}, after={"user_id": user_id})
    assignment.user_id = user_id
    assignment.unfilled_reasons = None if user_id is not None else {}
    if changed:
        db.session.execute(update(SwapRequest).where(
            SwapRequest.assignment_id == assignment.id, SwapRequest.status.in_(OPEN_SWAP))
            .values(status=SwapStatus.CANCELLED, decided_at=now()))
    if changed and published and user_id is not None:
        notify(user_id, "roster_published", f"队长为您安排了班次：{assignment.label}",
               dedupe_key=f"assignment_edit:{assignment.id}:{user_id}:{now().timestamp()}",
               data={"assignment_id": assignment.id}, page=SHIFTS_PAGE)
    return assignment


def my_swaps(user: User):
    return (select(SwapRequest)
            .where(or_(SwapRequest.from_user_id == user.id, SwapRequest.to_user_id == user.id))
            .order_by(SwapRequest.id.desc()))
