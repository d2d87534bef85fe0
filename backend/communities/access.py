"""Who may do what (SPEC §3): staff in their community, leaders for their teams,
residents on their own records. Lookups are cached per request in ``flask.g``.

A record of another community is a 404, never a 403 that confirms it exists; refusals come
before the request's arguments are looked at (``staff_only``, ``hide_foreign_teams``), so a
resident is told "not yours", not what is wrong with a staff form.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, g, request
from sqlalchemy import select

from backend.auth.models import User
from backend.auth.services import current_user, is_admin
from backend.communities.models import (
    Community,
    Resident,
    StaffMember,
    Team,
    TeamMember,
    TeamRole,
)
from backend.extensions import db
from backend.refusals import FORBIDDEN, NOT_FOUND


def _cached(name: str, user: User, load):
    cache = g.setdefault("linli_access", {})
    key = (name, user.id)
    if key not in cache:
        cache[key] = load()
    return cache[key]


def staff_community_ids(user: User) -> frozenset[int]:
    return _cached("staff", user, lambda: frozenset(db.session.scalars(
        select(StaffMember.community_id).where(StaffMember.user_id == user.id))))


def leader_team_ids(user: User) -> frozenset[int]:
    return _cached("leader", user, lambda: frozenset(db.session.scalars(
        select(TeamMember.team_id).where(
            TeamMember.user_id == user.id, TeamMember.role == TeamRole.LEADER))))


def residency(user: User) -> Resident | None:
    return _cached("resident", user, lambda: db.session.scalar(
        select(Resident).where(Resident.user_id == user.id)))


def lock_residency(user: User) -> Resident | None:
    """The user's residency under its row lock (one person's requests one at a time),
    which also answers ``residency`` for the rest of the request."""
    cache = g.setdefault("linli_access", {})
    cache[("resident", user.id)] = resident = db.session.scalar(
        select(Resident).where(Resident.user_id == user.id)
        .with_for_update().execution_options(populate_existing=True))
    return resident


def forget(user: User) -> None:
    """Drop cached roles after a change made in this request."""
    cache = g.get("linli_access", {})
    for key in [key for key in cache if key[1] == user.id]:
        del cache[key]


def is_staff_of(user: User, community_id: int) -> bool:
    return community_id in staff_community_ids(user)


def is_leader_of(user: User, team_id: int) -> bool:
    return team_id in leader_team_ids(user)


def is_resident_of(user: User, community_id: int) -> bool:
    resident = residency(user)
    return resident is not None and resident.community_id == community_id


def can_manage_team(user: User, team: Team) -> bool:
    return is_staff_of(user, team.community_id) or is_leader_of(user, team.id)


def require_admin(user: User) -> None:
    if not is_admin(user):
        raise FORBIDDEN.saying("仅街道管理员可以执行此操作")


def require_staff(user: User, community_id: int) -> None:
    if not is_staff_of(user, community_id):
        raise FORBIDDEN.saying("仅本社区工作人员可以执行此操作")


def require_team_manager(user: User, team: Team) -> None:
    if not can_manage_team(user, team):
        if not can_see_community(user, team.community_id):
            raise NOT_FOUND.saying("找不到该队伍")
        raise FORBIDDEN.saying("仅本队队长或社区工作人员可以执行此操作")


def require_staff_or_hide(user: User, community_id: int, not_found: str) -> None:
    """Staff of the community; others of it get 403, outsiders a 404 (``not_found``)."""
    if not is_staff_of(user, community_id):
        if not can_see_community(user, community_id):
            raise NOT_FOUND.saying(not_found)
        require_staff(user, community_id)


def checked_first(check: Callable[..., None], path_arg: str | None = None
                  ) -> Callable[[Callable], Callable]:
    """A view decorator running ``check(current_user(), <path_arg's value>)`` first, so that
    its 404 or 403 comes before the query and body are validated. Put it under
    ``@blp.route``, above ``@blp.arguments``."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def checked(*args, **kwargs):
            check(current_user(), *([kwargs[path_arg]] if path_arg else []))
            return view(*args, **kwargs)

        return checked

    return decorate


def _require_staff_of_existing(user: User, community_id: int) -> None:
    if db.session.get(Community, community_id) is None:
        raise NOT_FOUND.saying("找不到该社区")
    require_staff(user, community_id)


def staff_only(view: Callable) -> Callable:
    """For views of ``/communities/<cid>/…`` that only the community's staff may use."""
    return checked_first(_require_staff_of_existing, "cid")(view)


def hide_foreign_teams() -> None:
    """Any ``/teams/<tid>/…`` of a team the caller's communities do not hold is a 404
    (SPEC §3), before the view or its arguments are looked at."""
    team_id = (request.view_args or {}).get("tid")
    if team_id is None or request.method == "OPTIONS":
        return
    team = db.session.get(Team, team_id)
    if team is None or not can_see_community(current_user(), team.community_id):
        raise NOT_FOUND.saying("找不到该队伍")


def register(app: Flask) -> None:
    app.before_request(hide_foreign_teams)


def can_see_community(user: User, community_id: int) -> bool:
    return (
        is_admin(user)
        or is_staff_of(user, community_id)
        or is_resident_of(user, community_id)
    )


def roles_of(user: User) -> list[dict[str, Any]]:
    """The ``roles`` list of ``/me`` (SPEC §3)."""
    roles: list[dict[str, Any]] = []
    if is_admin(user):
        roles.append({"role": "admin", "community_id": None, "team_id": None})
    for community_id in sorted(staff_community_ids(user)):
        roles.append({"role": "staff", "community_id": community_id, "team_id": None})
    for team in _teams(leader_team_ids(user)):
        roles.append({"role": "leader", "community_id": team.community_id, "team_id": team.id})
    resident = residency(user)
    if resident is not None:
        roles.append({"role": "resident", "community_id": resident.community_id, "team_id": None})
    return roles


def _teams(team_ids: frozenset[int]) -> list[Team]:
    if not team_ids:
        return []
    return list(db.session.scalars(select(Team).where(Team.id.in_(team_ids)).order_by(Team.id)))


def mask_name(name: str) -> str:
    """张三明 → 张*明, 张三 → 张*: what a leader sees of a resident (SPEC §3)."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "*" * len(phone)
