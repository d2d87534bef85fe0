"""Parking duty use cases: templates, availability, rosters, publishing, my shifts.

Each public function that writes is one use case, one unit of work (``@transactional``).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, delete, select

from backend.auth.models import User
from backend.common.audit import audit
from backend.common.clock import LOCAL_TZ, now
from backend.common.pagination import paginate
from backend.common.transactions import lock, transactional
from backend.communities import access
from backend.communities.models import Community, Team, TeamCategory, TeamMember, TeamRole
from backend.communities.services import get_team, resident_names
from backend.errors import ValidationFailed
from backend.extensions import db
from backend.notify.services import notify
from backend.parking.generator import Member, generate
from backend.parking.models import (
    Assignment,
    DutySettings,
    MemberAvailability,
    Roster,
    RosterStatus,
    ShiftTemplate,
)
from backend.parking.rules import RULE_MESSAGES, Availability, Shift, shift_times
from backend.refusals import (
    FORBIDDEN,
    NO_SHIFT_TEMPLATES,
    NOT_FOUND,
    NOT_PARKING_TEAM,
    RATE_REQUIRES_STAFF,
)

MAX_ROSTER_DAYS = 62
MAX_ROSTER_SLOTS = 1500  # e.g. 62 days × 3 shifts × 8 seats: generation stays around 1 s at worst
SHIFTS_PAGE = "pages/duty/shifts"


# --- access ---------------------------------------------------------------------------------


def month_bounds(month: str) -> tuple[date, date]:
    """``"2026-12"`` → its first day and the first day of the next month."""
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1), date(year + number // 12, number % 12 + 1, 1)


def parking_team(team_id: int) -> Team:
    team = get_team(team_id)
    if team.category != TeamCategory.PARKING:
        raise NOT_PARKING_TEAM()
    return team


def member_ids(team_id: int) -> list[int]:
    return list(db.session.scalars(select(TeamMember.user_id)
                                   .where(TeamMember.team_id == team_id)
                                   .order_by(TeamMember.id)))


def is_member(user: User, team_id: int) -> bool:
    return db.session.scalar(select(TeamMember.id).where(
        TeamMember.team_id == team_id, TeamMember.user_id == user.id)) is not None


def leader_ids(team_id: int) -> list[int]:
    return list(db.session.scalars(select(TeamMember.user_id).where(
        TeamMember.team_id == team_id, TeamMember.role == TeamRole.LEADER)))


def require_member_or_manager(user: User, team: Team) -> None:
    if not (access.can_manage_team(user, team) or is_member(user, team.id)):
        raise FORBIDDEN.saying("仅本队队员、队长或社区工作人员可以查看")


def visible_roster(user: User, roster_id: int) -> Roster:
    """Another community's roster is a 404; a draft is for the team's managers only."""
    roster = db.session.get(Roster, roster_id)
    if roster is None or not (access.is_staff_of(user, roster.community_id)
                              or access.is_resident_of(user, roster.community_id)
                              or access.is_leader_of(user, roster.team_id)):
        raise NOT_FOUND.saying("找不到该排班表")
    team = db.session.get(Team, roster.team_id)
    if access.can_manage_team(user, team):
        return roster
    if roster.is_published and is_member(user, team.id):
        return roster
    raise FORBIDDEN.saying("仅本队队员可以查看已发布的排班表")


def managed_roster(user: User, roster_id: int) -> Roster:
    roster = visible_roster(user, roster_id)
    access.require_team_manager(user, db.session.get(Team, roster.team_id))
    return roster


# --- shift templates and availability -------------------------------------------------------


def templates_of(team_id: int) -> list[ShiftTemplate]:
    return list(db.session.scalars(select(ShiftTemplate).where(
        ShiftTemplate.team_id == team_id).order_by(ShiftTemplate.position)))


def duty_settings(team_id: int) -> DutySettings:
    settings = db.session.get(DutySettings, team_id)
    return settings or DutySettings(team_id=team_id, points_per_shift=0)


@transactional
def replace_templates(actor: User, team_id: int, shifts: list[dict[str, Any]],
                      points_per_shift: int | None) -> dict[str, Any]:
    """The team's shifts, replaced as a whole (existing rosters keep their own copies)."""
    team = parking_team(team_id)
    access.require_team_manager(actor, team)
    names = [s["name"] for s in shifts]
    if len(set(names)) != len(names):
        raise ValidationFailed({"shifts": ["班次名称不能重复"]})
    db.session.execute(delete(ShiftTemplate).where(ShiftTemplate.team_id == team_id))
    db.session.add_all(ShiftTemplate(team_id=team_id, position=i, name=s["name"],
                                     start_time=s["start"], end_time=s["end"],
                                     needed=s["needed"]) for i, s in enumerate(shifts))
    if points_per_shift is not None:
        _set_points_per_shift(actor, team, points_per_shift)
    return template_view(team_id)


def _set_points_per_shift(actor: User, team: Team, points: int) -> None:
    """A staff setting within the community's bound (SPEC §3), audited."""
    settings = db.session.get(DutySettings, team.id)
    before = settings.points_per_shift if settings is not None else 0
    if points == before:
        return
    if not access.is_staff_of(actor, team.community_id):
        raise RATE_REQUIRES_STAFF.saying("值班积分标准由社区工作人员设置")
    bound = db.session.get(Community, team.community_id).max_points_per_shift
    if points > bound:
        raise ValidationFailed({"points_per_shift": [f"不能超过本社区上限 {bound} 积分/班"]})
    if settings is None:
        settings = DutySettings(team_id=team.id, post_code_version=0)
        db.session.add(settings)
    settings.points_per_shift = points
    audit(actor.id, team.community_id, "duty.rate_changed", f"team:{team.id}",
          "修改值班积分标准", before={"points_per_shift": before},
          after={"points_per_shift": points})


def template_view(team_id: int) -> dict[str, Any]:
    return {"team_id": team_id, "points_per_shift": duty_settings(team_id).points_per_shift,
            "shifts": [{"name": t.name, "start": t.start_time, "end": t.end_time,
                        "needed": t.needed} for t in templates_of(team_id)]}


def get_templates(actor: User, team_id: int) -> dict[str, Any]:
    team = parking_team(team_id)
    require_member_or_manager(actor, team)
    return template_view(team_id)


def _availability_target(actor: User, team_id: int, user_id: int) -> Team:
    team = parking_team(team_id)
    if actor.id != user_id:
        access.require_team_manager(actor, team)
    elif not (is_member(actor, team_id) or access.can_manage_team(actor, team)):
        raise FORBIDDEN.saying("仅本队队员可以填写可值班时间")
    if user_id not in member_ids(team_id):
        raise NOT_FOUND.saying("该用户不是本队队员")
    return team


@transactional
def set_availability(actor: User, team_id: int, user_id: int,
                     data: dict[str, Any]) -> MemberAvailability:
    _availability_target(actor, team_id, user_id)
    row = availability_row(team_id, user_id)
    row.unavailable = sorted({d.isoformat() for d in data["unavailable"]})
    row.max_shifts_per_week = data["max_shifts_per_week"]
    preferences = data["preferences"]
    row.no_night = preferences["no_night"]
    row.avoid_shifts = sorted(set(preferences["avoid_shifts"]))
    db.session.add(row)
    return row


def get_availability(actor: User, team_id: int, user_id: int) -> MemberAvailability:
    _availability_target(actor, team_id, user_id)
    return availability_row(team_id, user_id)


def availability_row(team_id: int, user_id: int) -> MemberAvailability:
    row = db.session.scalar(select(MemberAvailability).filter_by(team_id=team_id,
                                                                 user_id=user_id))
    return row or MemberAvailability(team_id=team_id, user_id=user_id, unavailable=[],
                                     max_shifts_per_week=None, no_night=False, avoid_shifts=[])


def availability_of(team_id: int, user_id: int) -> Availability:
    return availability_row(team_id, user_id).rules()


# --- rosters --------------------------------------------------------------------------------


@transactional
def create_roster(actor: User, team_id: int, first_day: date, last_day: date) -> Roster:
    """Generate a draft roster over the days, honouring every hard rule."""
    team = parking_team(team_id)
    access.require_team_manager(actor, team)
    _check_range(first_day, last_day)
    templates = templates_of(team_id)
    if not templates:
        raise NO_SHIFT_TEMPLATES()
    slots = _slots(templates, first_day, last_day)
    if len(slots) > MAX_ROSTER_SLOTS:
        raise ValidationFailed({"to": [f"一次最多排 {MAX_ROSTER_SLOTS} 个班次，请缩短日期范围"]})
    members = [Member(uid, availability_of(team_id, uid),
                      fixed_shifts(uid, first_day, last_day)) for uid in member_ids(team_id)]
    result = generate([shift for shift, _ in slots], members)
    roster = Roster(team_id=team.id, community_id=team.community_id, first_day=first_day,
                    last_day=last_day, created_by=actor.id)
    db.session.add(roster)
    for index, (shift, seat) in enumerate(slots):
        roster.assignments.append(Assignment(
            team_id=team.id, date=shift.day, shift=shift.name, seat=seat,
            starts_at=shift.start, ends_at=shift.end, user_id=result.assigned.get(index),
            unfilled_reasons=result.unfilled.get(index)))
    return roster


def _check_range(first_day: date, last_day: date) -> None:
    if first_day < now().astimezone(LOCAL_TZ).date():
        raise ValidationFailed({"from": ["不能为已过去的日期排班"]})
    if (last_day - first_day).days + 1 > MAX_ROSTER_DAYS:
        raise ValidationFailed({"to": [f"一次最多排 {MAX_ROSTER_DAYS} 天"]})


def _slots(templates: list[ShiftTemplate], first_day: date,
           last_day: date) -> list[tuple[Shift, int]]:
    slots = []
    for offset in range((last_day - first_day).days + 1):
        day = first_day + timedelta(days=offset)
        for template in templates:
            start, end = shift_times(day, template.start_time, template.end_time)
            slots += [(Shift(day, template.name, start, end), seat)
                      for seat in range(1, template.needed + 1)]
    return slots


def fixed_shifts(user_id: int, first_day: date, last_day: date) -> tuple[Shift, ...]:
    """The member's shifts in published rosters near the days (rest and weekly rules)."""
    rows = db.session.scalars(
        select(Assignment).join(Roster, Roster.id == Assignment.roster_id)
        .where(Assignment.user_id == user_id, Roster.status == RosterStatus.PUBLISHED,
               Assignment.date >= first_day - timedelta(days=7),
               Assignment.date <= last_day + timedelta(days=7)))
    return tuple(row.as_shift() for row in rows)


@transactional
def publish_roster(actor: User, roster_id: int) -> Roster:
    roster = managed_roster(actor, roster_id)
    # The team's row serialises publishing, so two overlapping rosters cannot both go out.
    lock(Team, roster.team_id)
    roster = db.session.scalars(select(Roster).where(Roster.id == roster.id)
                                .execution_options(populate_existing=True)).one()
    roster.publish(db.session.scalar(select(Roster.id).where(
        Roster.team_id == roster.team_id, Roster.status == RosterStatus.PUBLISHED,
        Roster.first_day <= roster.last_day, roster.first_day <= Roster.last_day)))
    _notify_members(roster)
    return roster


def _notify_members(roster: Roster) -> None:
    counts: dict[int, int] = {}
    for assignment in roster.assignments:
        if assignment.user_id is not None:
            counts[assignment.user_id] = counts.get(assignment.user_id, 0) + 1
    span = f"{roster.first_day:%m月%d日}至{roster.last_day:%m月%d日}"
    for user_id, count in counts.items():
        notify(user_id, "roster_published", f"{span}的值班表已发布，您共有{count}个班次",
               dedupe_key=f"roster_published:{roster.id}:{user_id}",
               data={"roster_id": roster.id}, page=SHIFTS_PAGE)


def team_rosters(actor: User, team_id: int) -> Select:
    team = parking_team(team_id)
    require_member_or_manager(actor, team)
    query = select(Roster).where(Roster.team_id == team_id)
    if not access.can_manage_team(actor, team):
        query = query.where(Roster.status == RosterStatus.PUBLISHED)
    return query.order_by(Roster.first_day.desc(), Roster.id.desc())


def roster_view(roster: Roster) -> dict[str, Any]:
    """The SPEC §8 shape, with fairness recomputed from the current assignments."""
    held = [a for a in roster.assignments if a.user_id is not None]
    return {"id": roster.id, "team_id": roster.team_id, "status": roster.status,
            "from": roster.first_day, "to": roster.last_day, "assignments": held,
            "fairness": fairness(roster.team_id, held),
            "unfilled": [_unfilled(a) for a in roster.assignments if a.user_id is None],
            "created_at": roster.created_at, "published_at": roster.published_at}


def fairness(team_id: int, held: list[Assignment]) -> dict[str, int]:
    """Spread of shifts over every member, and of nights over those who accept nights."""
    members = member_ids(team_id)
    shifts = dict.fromkeys(members, 0)
    nights = dict.fromkeys(members, 0)
    for assignment in held:
        shifts[assignment.user_id] = shifts.get(assignment.user_id, 0) + 1
        nights[assignment.user_id] = nights.get(assignment.user_id, 0) + assignment.is_night
    willing = [uid for uid in nights if not availability_of(team_id, uid).no_night] or list(nights)
    night_counts = [nights[uid] for uid in willing] or [0]
    counts = list(shifts.values()) or [0]
    return {"min_shifts": min(counts), "max_shifts": max(counts),
            "night_min": min(night_counts), "night_max": max(night_counts)}


def _unfilled(assignment: Assignment) -> dict[str, Any]:
    reasons = assignment.unfilled_reasons or {}
    words = [f"{RULE_MESSAGES[rule]}（{n}人）" for rule, n in sorted(reasons.items())]
    return {"id": assignment.id, "date": assignment.date, "shift": assignment.shift,
            "starts_at": assignment.starts_at, "ends_at": assignment.ends_at,
            "reasons": reasons, "reason": "；".join(words) or "无人可排"}


def my_shifts(user: User, first_day: date | None, last_day: date | None) -> Select:
    """The caller's shifts in published rosters, from today on unless asked otherwise."""
    first_day = first_day or now().astimezone(LOCAL_TZ).date()
    query = (select(Assignment).join(Roster, Roster.id == Assignment.roster_id)
             .where(Assignment.user_id == user.id, Roster.status == RosterStatus.PUBLISHED,
                    Assignment.date >= first_day))
    if last_day is not None:
        query = query.where(Assignment.date <= last_day)
    return query.order_by(Assignment.starts_at, Assignment.id)



def teammates(actor: User, team_id: int, day: date, page: int, per_page: int) -> dict[str, Any]:
    """The team's other members for the swap picker (members and managers of the team):
    names masked as a leader sees them, and whether each is free on ``day`` — no shift of a
    published roster that day and not marked unavailable (a swap still answers by the hard
    rules; this is only who to ask first)."""
    team = parking_team(team_id)
    require_member_or_manager(actor, team)
    listed = paginate(select(TeamMember.user_id).where(
        TeamMember.team_id == team_id, TeamMember.user_id != actor.id)
        .order_by(TeamMember.id), page, per_page)
    ids = listed["items"]
    on_shift = set(db.session.scalars(
        select(Assignment.user_id).join(Roster, Roster.id == Assignment.roster_id)
        .where(Assignment.user_id.in_(ids), Assignment.date == day,
               Roster.status == RosterStatus.PUBLISHED)))
    away = {row.user_id for row in db.session.scalars(select(MemberAvailability).where(
        MemberAvailability.team_id == team_id, MemberAvailability.user_id.in_(ids)))
        if day.isoformat() in row.unavailable}
    names = resident_names(ids)
    busy = {uid: "on_shift" for uid in on_shift} | {uid: "unavailable" for uid in away}
    listed["items"] = [{
        "user_id": uid, "free": uid not in busy, "busy_reason": busy.get(uid),
        "display_name": access.mask_name(names[uid].real_name if uid in names else f"用户{uid}"),
    } for uid in ids]
    return listed
