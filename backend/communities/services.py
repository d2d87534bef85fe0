"""Use cases for communities, staff, residents and teams; each is one unit of work."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, delete, select

from backend.auth.models import User
from backend.auth.services import revoke_tokens
from backend.common.audit import AuditEntry, audit
from backend.common.audit import changes as audit_changes
from backend.common.clock import LOCAL_TZ, local_midnight
from backend.common.transactions import transactional, unit_of_work
from backend.communities import access
from backend.communities.models import (
    Community,
    Resident,
    StaffMember,
    Team,
    TeamCategory,
    TeamMember,
    TeamRole,
)
from backend.errors import ValidationFailed
from backend.extensions import db
from backend.refusals import ALREADY_IN_COMMUNITY, FORBIDDEN, NOT_A_RESIDENT, NOT_FOUND


def get_community(community_id: int) -> Community:
    community = db.session.get(Community, community_id)
    if community is None:
        raise NOT_FOUND.saying("找不到该社区")
    return community


def get_team(team_id: int) -> Team:
    team = db.session.get(Team, team_id)
    if team is None:
        raise NOT_FOUND.saying("找不到该队伍")
    return team


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NOT_FOUND.saying("找不到该用户")
    return user


def list_communities():
    return select(Community).order_by(Community.id)


@transactional
def create_community(actor: User, name: str, street: str) -> Community:
    access.require_admin(actor)
    community = Community(name=name, street=street)
    db.session.add(community)
    return community


# Set by the street: the bounds within which staff choose the community's rates.
STREET_SETTINGS = frozenset({"max_points_per_hour", "max_points_per_shift"})


@transactional
def update_community_settings(actor: User, community_id: int, changes: dict[str, Any]) -> Community:
    """Staff change their community's rules and rates (audited); admins also set bounds."""
    community = get_community(community_id)
    if not access.is_admin(actor):
        access.require_staff(actor, community_id)
        if STREET_SETTINGS & changes.keys():
            raise FORBIDDEN.saying("积分上限由街道管理员设置")
    bound = changes.get("max_points_per_hour", community.max_points_per_hour)
    if changes.get("points_per_hour", community.points_per_hour) > bound:
        raise ValidationFailed({"points_per_hour": [f"不能超过上限 {bound} 积分/小时"]})
    before, after = audit_changes({field: getattr(community, field) for field in changes},
                                  changes)
    for field, value in changes.items():
        setattr(community, field, value)
    if after:
        audit(actor.id, community_id, "community.settings_changed", f"community:{community_id}",
              "修改社区规则", before=before, after=after)
    return community


@transactional
def add_staff(actor: User, community_id: int, user_id: int) -> tuple[StaffMember, bool]:
    """Make ``user_id`` staff of the community; returns (membership, created)."""
    access.require_admin(actor)
    get_community(community_id)
    get_user(user_id)
    existing = db.session.scalar(select(StaffMember).filter_by(
        community_id=community_id, user_id=user_id))
    if existing is not None:
        return existing, False
    staff = StaffMember(community_id=community_id, user_id=user_id)
    db.session.add(staff)
    return staff, True


@transactional
def remove_staff(actor: User, community_id: int, user_id: int) -> None:
    """End a user's office as staff of the community (admins). Their tokens are revoked
    with it: a removed staff member logs in again, and holds no staff role from now on."""
    access.require_admin(actor)
    get_community(community_id)
    removed = db.session.execute(delete(StaffMember).where(
        StaffMember.community_id == community_id, StaffMember.user_id == user_id)).rowcount
    if not removed:
        raise NOT_FOUND.saying("该用户不是本社区工作人员")
    revoke_tokens(user_id)


# What other domains do when a resident joins, in the joining transaction (points opens the
# resident's account): registered by create_app, since communities sits below them.
JOIN_HOOKS: dict[str, Callable[[int, int], None]] = {}


def on_join(name: str, hook: Callable[[int, int], None]) -> None:
    """Run ``hook(community_id, user_id)`` when someone becomes a resident."""
    JOIN_HOOKS[name] = hook


def join_community(user: User, community_id: int, details: dict[str, str]) -> tuple[Resident, bool]:
    """Become a resident; joining the same community again updates the address."""
    with unit_of_work():
        get_community(community_id)
        resident = access.residency(user)
        if resident is not None and resident.community_id != community_id:
            raise ALREADY_IN_COMMUNITY(details={"community_id": resident.community_id})
        created = resident is None
        if created:
            resident = Resident(user_id=user.id, community_id=community_id)
            db.session.add(resident)
        for field, value in details.items():
            setattr(resident, field, value)
        if created:
            # e.g. points opens the account now, so that two first transfers at the same
            # instant find it (SPEC §6).
            for hook in JOIN_HOOKS.values():
                hook(community_id, user.id)
    access.forget(user)  # the cached roles, once the residency is committed
    return resident, created


def list_teams(actor: User, community_id: int):
    get_community(community_id)
    if not access.can_see_community(actor, community_id):
        raise FORBIDDEN.saying("只能查看本社区的队伍")
    return select(Team).where(Team.community_id == community_id).order_by(Team.id)


@transactional
def create_team(actor: User, community_id: int, name: str, category: TeamCategory) -> Team:
    get_community(community_id)
    access.require_staff(actor, community_id)
    team = Team(community_id=community_id, name=name, category=category)
    db.session.add(team)
    return team


@transactional
def add_team_member(actor: User, team_id: int, user_id: int,
                    role: TeamRole) -> tuple[TeamMember, bool]:
    """Add a resident of the team's community to the team, or change their role."""
    team = get_team(team_id)
    access.require_team_manager(actor, team)
    member_user = get_user(user_id)
    if not access.is_resident_of(member_user, team.community_id):
        raise NOT_A_RESIDENT(details={"user_id": user_id})
    member = db.session.scalar(select(TeamMember).filter_by(team_id=team_id, user_id=user_id))
    created = member is None
    before = None if created else {"role": member.role}
    if created:
        member = TeamMember(team_id=team_id, user_id=user_id, role=role)
        db.session.add(member)
    member.role = role
    if before != {"role": role}:
        # Who leads a team signs off its hours: every change of it is on record.
        audit(actor.id, team.community_id, "team.member_set", f"team:{team.id}",
              "设置队员", before=before, after={"user_id": user_id, "role": role})
    return member, created


@transactional
def remove_team_member(actor: User, team_id: int, user_id: int) -> None:
    """Take a member or leader off the team (staff, or the team's leader); their tokens are
    revoked, so a former leader's phone stops acting as one at once."""
    team = get_team(team_id)
    access.require_team_manager(actor, team)
    removed = db.session.execute(delete(TeamMember).where(
        TeamMember.team_id == team_id, TeamMember.user_id == user_id)).rowcount
    if not removed:
        raise NOT_FOUND.saying("该用户不是本队队员")
    revoke_tokens(user_id)
    audit(actor.id, team.community_id, "team.member_removed", f"team:{team.id}", "移出队伍",
          before={"user_id": user_id})


def list_team_members(actor: User, team_id: int):
    team = get_team(team_id)
    access.require_team_manager(actor, team)
    return team, select(TeamMember).where(TeamMember.team_id == team_id).order_by(TeamMember.id)


def resident_names(user_ids: list[int]) -> dict[int, Resident]:
    if not user_ids:
        return {}
    rows = db.session.scalars(select(Resident).where(Resident.user_id.in_(set(user_ids))))
    return {row.user_id: row for row in rows}


def display_names(viewer: User, community_id: int, user_ids: list[int]) -> dict[int, str]:
    """Names as ``viewer`` may see them: in full for the community's staff, masked otherwise."""
    full = access.is_staff_of(viewer, community_id)
    residents = resident_names(user_ids)
    names: dict[int, str] = {}
    for user_id in user_ids:
        resident = residents.get(user_id)
        name = resident.real_name if resident is not None else f"用户{user_id}"
        names[user_id] = name if full else access.mask_name(name)
    return names


def attach_display_names(viewer: User, rows: list[Any],
                         community_of: Callable[[Any], int]) -> list[Any]:
    """Set ``display_name`` on each row (one with a ``user_id``) as ``viewer`` may see it."""
    by_community: dict[int, list[int]] = {}
    for row in rows:
        by_community.setdefault(community_of(row), []).append(row.user_id)
    names: dict[int, str] = {}
    for community_id, user_ids in by_community.items():
        names.update(display_names(viewer, community_id, user_ids))
    for row in rows:
        row.display_name = names[row.user_id]
    return rows


def audit_trail(actor: User, community_id: int, filters: dict[str, Any]) -> Select:
    """The community's audit log, newest first (staff): by actor, action and local dates."""
    get_community(community_id)
    access.require_staff(actor, community_id)
    query = select(AuditEntry).where(AuditEntry.community_id == community_id)
    if filters.get("actor_id") is not None:
        query = query.where(AuditEntry.actor_id == filters["actor_id"])
    if filters.get("action"):
        query = query.where(AuditEntry.action == filters["action"])
    if filters.get("first_day") is not None:
        query = query.where(AuditEntry.created_at >= local_midnight(filters["first_day"]))
    if filters.get("last_day") is not None:
        query = query.where(AuditEntry.created_at
                            < local_midnight(filters["last_day"], next_day=True))
    return query.order_by(AuditEntry.id.desc())


AUDIT_HEADER = ["编号", "时间", "操作人", "操作", "对象", "修改前", "修改后", "原因"]


def audit_rows(actor: User, community_id: int, filters: dict[str, Any]) -> list[list[Any]]:
    """The trail as spreadsheet rows, the actor named as staff see them."""
    entries = list(db.session.scalars(audit_trail(actor, community_id, filters).limit(50_000)))
    names = _actor_names({entry.actor_id for entry in entries})
    return [AUDIT_HEADER] + [
        [entry.id, entry.created_at.astimezone(LOCAL_TZ).isoformat(),
         names.get(entry.actor_id, f"用户{entry.actor_id}"), entry.action, entry.subject,
         _compact(entry.before), _compact(entry.after), entry.reason] for entry in entries]


def _actor_names(user_ids: set[int]) -> dict[int, str]:
    residents = resident_names(list(user_ids))
    users = {user.id: user for user in db.session.scalars(
        select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    return {uid: residents[uid].real_name if uid in residents else users[uid].nickname
            for uid in user_ids if uid in residents or uid in users}


def _compact(values: dict[str, Any] | None) -> str:
    return json.dumps(values, ensure_ascii=False, sort_keys=True) if values else ""
