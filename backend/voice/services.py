"""Needs (民事民提, SPEC §9a): residents post and support them, staff triage them with a
reply everyone sees, activities name the need they serve.

The ``supporters`` counter is exact under concurrency: every support or withdrawal takes
the need's row lock first (``lock(Need, id)``), then inserts or deletes the support row and
moves the counter in the same transaction; a merge locks both needs in id order. A CHECK
keeps the counter non-negative whatever happens above.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import Select, exists, func, insert, select

from backend.activities import services as activities
from backend.activities.models import Activity, ActivityStatus
from backend.auth.models import User
from backend.common.audit import audit
from backend.common.clock import local_midnight, now, today
from backend.common.pagination import paginate
from backend.common.transactions import lock, transactional
from backend.communities import access
from backend.communities.models import Resident, Team
from backend.communities.services import get_community, resident_names
from backend.errors import ValidationFailed
from backend.extensions import db
from backend.notify.services import notify
from backend.refusals import (
    FORBIDDEN,
    MERGE_TARGET_CLOSED,
    NEED_ALREADY_CLOSED,
    NEED_CLOSED,
    NEED_LIMIT_REACHED,
    NEED_NOT_ACCEPTED,
    NEED_NOT_SERVED,
    NEED_NOT_TAKEN_BY_TEAM,
    NOT_FOUND,
)
from backend.voice.models import MERGE_TARGETS, Need, NeedStatus, NeedSupport

OPEN_FOR_SUPPORT = (NeedStatus.OPEN, NeedStatus.ACCEPTED)
STATUS_WORDS = {NeedStatus.ACCEPTED: "已受理", NeedStatus.DECLINED: "暂不受理",
                NeedStatus.MERGED: "已合并", NeedStatus.DONE: "已办结"}


def needs_per_day() -> int:
    """How many needs one resident may post in one local day while they are still open
    (``LINLI_NEEDS_PER_DAY``)."""
    return current_app.config["NEEDS_PER_DAY"]


# -- reading -------------------------------------------------------------------------------

def get_visible_need(actor: User, need_id: int) -> Need:
    """The need if the actor may see its community; otherwise (or missing) a 404."""
    need = db.session.get(Need, need_id)
    if need is None or not access.can_see_community(actor, need.community_id):
        raise NOT_FOUND.saying("找不到该需求")
    return need


def require_community_reader(actor: User, community_id: int) -> None:
    """Residents, staff (and street admins) of the community; anyone else a 404."""
    get_community(community_id)
    if not access.can_see_community(actor, community_id):
        raise NOT_FOUND.saying("找不到该社区")


def list_needs(actor: User, community_id: int, status: NeedStatus | None = None,
               sort: str = "newest", page: int = 1, per_page: int = 20) -> dict[str, Any]:
    require_community_reader(actor, community_id)
    query: Select = select(Need).where(Need.community_id == community_id)
    if status is not None:
        query = query.where(Need.status == status)
    if sort == "supporters":
        query = query.order_by(Need.supporters.desc(), Need.created_at.desc(), Need.id.desc())
    else:
        query = query.order_by(Need.created_at.desc(), Need.id.desc())
    result = paginate(query, page, per_page)
    result["items"] = need_views(actor, result["items"])
    return result


def need_views(actor: User, needs: list[Need]) -> list[dict[str, Any]]:
    """Needs as the API shows them: the viewer's own support, masked authors, team names."""
    ids = [need.id for need in needs]
    supported = set(db.session.scalars(select(NeedSupport.need_id).where(
        NeedSupport.user_id == actor.id, NeedSupport.need_id.in_(ids)))) if ids else set()
    names = resident_names([need.author_id for need in needs])
    team_ids = {need.team_id for need in needs if need.team_id}
    teams = dict(db.session.execute(select(Team.id, Team.name).where(
        Team.id.in_(team_ids))).all()) if team_ids else {}
    return [_view(need, need.id in supported, need.author_id == actor.id,
                  names.get(need.author_id), teams) for need in needs]


def _view(need: Need, i_support: bool, mine: bool, author: Resident | None,
          teams: dict[int, str]) -> dict[str, Any]:
    return {"id": need.id, "community_id": need.community_id, "title": need.title,
            "description": need.description, "category": need.category,
            "status": need.status, "supporters": need.supporters, "i_support": i_support,
            "mine": mine, "author": access.mask_name(author.real_name) if author else "居民",
            "reply": need.reply, "team_id": need.team_id,
            "team_name": teams.get(need.team_id) if need.team_id else None,
            "merged_into": need.merged_into_id, "created_at": need.created_at,
            "triaged_at": need.triaged_at}


def need_view(actor: User, need: Need) -> dict[str, Any]:
    return need_views(actor, [need])[0]


def get_need(actor: User, need_id: int) -> dict[str, Any]:
    return need_view(actor, get_visible_need(actor, need_id))


# -- posting and supporting -------------------------------------------------------------

def _require_resident(actor: User, community_id: int, what: str) -> Resident:
    resident = access.residency(actor)
    if resident is None or resident.community_id != community_id:
        raise FORBIDDEN.saying(f"仅本社区居民可以{what}")
    return resident


@transactional
def post_need(actor: User, community_id: int, data: dict[str, Any]) -> dict[str, Any]:
    require_community_reader(actor, community_id)
    resident = _require_resident(actor, community_id, "提出需求")
    # The resident's own row lock: two posts at once cannot both slip under the limit.
    lock(Resident, resident.id)
    limit = needs_per_day()
    posted = db.session.scalar(select(func.count()).select_from(Need).where(
        Need.author_id == actor.id, Need.status == NeedStatus.OPEN,
        Need.created_at >= local_midnight(today())))
    if posted >= limit:
        raise NEED_LIMIT_REACHED(limit=limit)
    need = Need(community_id=community_id, author_id=actor.id, status=NeedStatus.OPEN,
                supporters=1, **data)
    db.session.add(need)
    db.session.flush()
    # The author supports their own need from the start (SPEC: supporters 1, i_support).
    db.session.add(NeedSupport(need_id=need.id, user_id=actor.id))
    db.session.flush()
    return need_view(actor, need)


@transactional
def support(actor: User, need_id: int) -> dict[str, Any]:
    need = get_visible_need(actor, need_id)
    _require_resident(actor, need.community_id, "支持需求")
    need = lock(Need, need_id)
    already = _supports(need.id, actor.id)
    if not already:
        _require_open(need)
        db.session.add(NeedSupport(need_id=need.id, user_id=actor.id))
        need.supporters += 1
        db.session.flush()
    return {"supporters": need.supporters, "i_support": True}


@transactional
def unsupport(actor: User, need_id: int) -> dict[str, Any]:
    need = get_visible_need(actor, need_id)
    _require_resident(actor, need.community_id, "支持需求")
    need = lock(Need, need_id)
    row = db.session.get(NeedSupport, (need.id, actor.id))
    if row is not None:
        _require_open(need)
        db.session.delete(row)
        need.supporters -= 1
        db.session.flush()
    return {"supporters": need.supporters, "i_support": False}


def _supports(need_id: int, user_id: int) -> bool:
    return db.session.scalar(select(exists().where(
        NeedSupport.need_id == need_id, NeedSupport.user_id == user_id)))


def _require_open(need: Need) -> None:
    if need.status not in OPEN_FOR_SUPPORT:
        raise NEED_CLOSED()


# -- triage ------------------------------------------------------------------------------

def require_need_staff(actor: User, need_id: int) -> Need:
    """Staff of the need's community; others of it a 403, outsiders a 404."""
    need = get_visible_need(actor, need_id)
    access.require_staff(actor, need.community_id)
    return need


@transactional
def triage(actor: User, need_id: int, data: dict[str, Any]) -> dict[str, Any]:
    need = require_need_staff(actor, need_id)
    status = NeedStatus(data["status"])
    target = None
    if status == NeedStatus.MERGED:
        target = _merge_target(need, data["merged_into"])
        # Both rows in id order, as every other use case that takes two of them.
        first, second = sorted((need.id, target.id))
        lock(Need, first)
        lock(Need, second)
        db.session.refresh(need)
        db.session.refresh(target)
        if target.status not in MERGE_TARGETS:
            raise MERGE_TARGET_CLOSED()
    else:
        need = lock(Need, need_id)
    _check_transition(need, status)
    team_id = None
    if status == NeedStatus.ACCEPTED:
        team_id = _team_of(need, data["team_id"]).id
    if status == NeedStatus.DONE and not _served_by_ended_activity(need.id):
        raise NEED_NOT_SERVED()
    before = {"status": need.status, "team_id": need.team_id}
    need.triage(status, data["reply"], actor.id, team_id=team_id,
                merged_into_id=target.id if target else None)
    if target is not None:
        _move_supporters(need, target)
    audit(actor.id, need.community_id, "need.triaged", f"need:{need.id}", data["reply"],
          before=before, after={"status": status, "team_id": need.team_id,
                                "merged_into": need.merged_into_id})
    _notify_supporters(need)
    db.session.flush()
    return need_view(actor, need)


def _check_transition(need: Need, status: NeedStatus) -> None:
    if need.status in (NeedStatus.DECLINED, NeedStatus.MERGED, NeedStatus.DONE):
        raise NEED_ALREADY_CLOSED()
    if status == NeedStatus.DONE and need.status != NeedStatus.ACCEPTED:
        raise NEED_NOT_ACCEPTED()


def _merge_target(need: Need, target_id: int) -> Need:
    target = db.session.get(Need, target_id)
    if target is None or target.community_id != need.community_id:
        raise ValidationFailed({"merged_into": ["找不到本社区的这条需求"]})
    if target.id == need.id:
        raise ValidationFailed({"merged_into": ["不能合并到自身"]})
    return target


def _team_of(need: Need, team_id: int) -> Team:
    team = db.session.get(Team, team_id)
    if team is None or team.community_id != need.community_id:
        raise ValidationFailed({"team_id": ["找不到本社区的这支队伍"]})
    return team


def _served_by_ended_activity(need_id: int) -> bool:
    return db.session.scalar(select(exists().where(
        Activity.need_id == need_id, Activity.status == ActivityStatus.PUBLISHED,
        Activity.ends_at <= now())))


def _move_supporters(source: Need, target: Need) -> None:
    """Everyone who supported ``source`` now supports ``target``; who already did counts
    once. The source keeps its rows and count as the record of what was merged."""
    already = select(NeedSupport.user_id).where(NeedSupport.need_id == target.id)
    moving = select(NeedSupport.user_id).where(NeedSupport.need_id == source.id,
                                               NeedSupport.user_id.not_in(already))
    user_ids = list(db.session.scalars(moving))
    if user_ids:
        stamp = now()
        db.session.execute(insert(NeedSupport), [
            {"need_id": target.id, "user_id": uid, "created_at": stamp} for uid in user_ids])
        target.supporters += len(user_ids)


def _notify_supporters(need: Need) -> None:
    """The author and every supporter hear the outcome, once per status."""
    words = STATUS_WORDS[need.status]
    people = set(db.session.scalars(select(NeedSupport.user_id).where(
        NeedSupport.need_id == need.id)))
    people.add(need.author_id)
    for user_id in sorted(people):
        notify(user_id, "need_update", f"您关注的需求「{need.title}」{words}：{need.reply}",
               dedupe_key=f"need_update:{need.id}:{need.status}:{user_id}",
               data={"need_id": need.id, "status": str(need.status)}, page=need.page)


# -- activities that serve a need ----------------------------------------------------------

def check_activity_need(activity: Activity) -> None:
    """An activity may name a need of its community, accepted and taken on by its team."""
    if activity.need_id is None:
        return
    need = db.session.get(Need, activity.need_id)
    if need is None or need.community_id != activity.community_id:
        raise ValidationFailed({"need_id": ["找不到本社区的这条需求"]})
    if need.status != NeedStatus.ACCEPTED or need.team_id != activity.team_id:
        raise NEED_NOT_TAKEN_BY_TEAM()


activities.register_need_check(check_activity_need)
