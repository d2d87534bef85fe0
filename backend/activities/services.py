"""Activity lifecycle and what each viewer may see of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import undefer

from backend.activities.models import ACTIVE_SIGNUP, Activity, ActivityStatus, Signup
from backend.activities.schemas import time_rule_errors
from backend.activities.tasks import schedule_reminders, unschedule_reminders
from backend.activities.waitlist import fill_free_seats
from backend.auth.models import User
from backend.auth.services import is_admin
from backend.common.audit import audit
from backend.common.clock import now
from backend.common.transactions import lock, transactional, unit_of_work
from backend.communities import access
from backend.communities.models import Community, Team
from backend.communities.services import get_team
from backend.errors import ValidationFailed
from backend.extensions import db
from backend.notify.services import notify
from backend.refusals import (
    ACTIVITY_CANCELLED,
    ACTIVITY_PUBLISHED,
    ATTENDANCE_CONFIRMED,
    CAPACITY_BELOW_CONFIRMED,
    FORBIDDEN,
    NOT_FOUND,
    RATE_REQUIRES_STAFF,
)

# The voice domain (above this one) checks an activity's ``need_id`` (SPEC §9a): it
# registers its rule here when it is imported, so nothing here imports upwards.
_need_checks: list[Callable[[Activity], None]] = []


def register_need_check(check: Callable[[Activity], None]) -> None:
    if check not in _need_checks:
        _need_checks.append(check)


def _check_need(activity: Activity) -> None:
    for check in _need_checks:
        check(activity)


@transactional
def create_activity(actor: User, team_id: int, data: dict[str, Any]) -> Activity:
    team = get_team(team_id)
    access.require_team_manager(actor, team)
    if data["starts_at"] <= now():
        raise ValidationFailed({"starts_at": ["活动开始时间必须晚于现在"]})
    if data.get("points_per_hour") is not None:
        _check_rate(actor, team.community_id, data["points_per_hour"])
    activity = Activity(team_id=team.id, community_id=team.community_id, created_by=actor.id,
                        **data)
    _check_need(activity)
    db.session.add(activity)
    db.session.flush()
    if activity.points_per_hour is not None:
        audit(actor.id, activity.community_id, "activity.rate_changed",
              f"activity:{activity.id}", "设置活动积分标准",
              after={"points_per_hour": activity.points_per_hour})
    return activity


def _check_rate(actor: User, community_id: int, points_per_hour: int) -> None:
    """An activity's own rate (SPEC §3): a leader may set it up to the community's rate;
    above that it is a staff setting, within the bound the street set."""
    community = db.session.get(Community, community_id)
    if points_per_hour > community.points_per_hour and not access.is_staff_of(
            actor, community_id):
        raise RATE_REQUIRES_STAFF(points_per_hour=community.points_per_hour)
    if points_per_hour > community.max_points_per_hour:
        raise ValidationFailed({"points_per_hour": [
            f"不能超过本社区上限 {community.max_points_per_hour} 积分/小时"]})


def mark_hours_confirmed(activity: Activity) -> None:
    """A leader signed off hours (flush only): the activity's rate is frozen from now on."""
    if activity.hours_confirmed_at is None:
        activity.hours_confirmed_at = now()


def can_manage(user: User, activity: Activity) -> bool:
    return (access.is_staff_of(user, activity.community_id)
            or access.is_leader_of(user, activity.team_id))


def can_view(user: User, activity: Activity) -> bool:
    # Residents are by far the most frequent callers: answer them without role lookups.
    if activity.status != ActivityStatus.DRAFT and access.is_resident_of(
            user, activity.community_id):
        return True
    return is_admin(user) or can_manage(user, activity)


def get_visible_activity(user: User, activity_id: int) -> Activity:
    """The activity if ``user`` may see it; another community's (or a draft) is a 404."""
    activity = db.session.get(Activity, activity_id)
    if activity is None or not can_view(user, activity):
        raise NOT_FOUND.saying("找不到该活动")
    return activity


def get_managed_activity(user: User, activity_id: int, locked: bool = False) -> Activity:
    activity = get_visible_activity(user, activity_id)
    if not can_manage(user, activity):
        raise FORBIDDEN.saying("仅本队队长或社区工作人员可以管理该活动")
    if locked:
        activity = lock_activity(activity_id)
    return activity


def lock_activity(activity_id: int) -> Activity:
    """Row-lock the activity (PostgreSQL); SQLite already holds the write lock."""
    activity = lock(Activity, activity_id)
    if activity is None:
        raise NOT_FOUND.saying("找不到该活动")
    return activity


def hold_activity(activity_id: int) -> Activity:
    """The activity, refreshed, under a KEY SHARE lock (PostgreSQL): sign-ups hold it all at
    once and still take seats (``waitlist.take_seat``), while a cancellation or edit, which
    locks ``FOR UPDATE`` and promotes from the waitlist, waits for those in flight."""
    activity = lock(Activity, activity_id, key_share=True)
    if activity is None:
        raise NOT_FOUND.saying("找不到该活动")
    return activity


def publish_activity(actor: User, activity_id: int) -> Activity:
    # Reminders are booked only once the publication has committed.
    with unit_of_work():
        activity = get_managed_activity(actor, activity_id, locked=True)
        activity.publish()
    schedule_reminders(activity)
    return activity


def cancel_activity(actor: User, activity_id: int) -> Activity:
    """Cancel the activity and every sign-up on it; everyone signed up is told."""
    with unit_of_work():
        activity = get_managed_activity(actor, activity_id, locked=True)
        activity.cancel()
        signups = db.session.scalars(select(Signup).where(
            Signup.activity_id == activity.id, Signup.status.in_(ACTIVE_SIGNUP)))
        for signup in signups:
            signup.cancel()
            notify(signup.user_id, "activity_cancelled",
                   f"您报名的活动「{activity.title}」已取消",
                   dedupe_key=f"activity_cancelled:{activity.id}:{signup.user_id}",
                   data={"activity_id": activity.id}, page=activity.page)
    # Unbooked only once the cancellation has committed.
    unschedule_reminders(activity.id)
    return activity


# Fields that may change once residents have signed up; times only while still a draft,
# so that nobody's confirmed seat silently moves to a time they cannot make.
TIME_FIELDS = {"starts_at", "ends_at", "signup_opens_at", "signup_closes_at", "cancel_deadline"}


@transactional
def update_activity(actor: User, activity_id: int, changes: dict[str, Any]) -> Activity:
    activity = get_managed_activity(actor, activity_id, locked=True)
    if activity.status == ActivityStatus.CANCELLED:
        raise ACTIVITY_CANCELLED()
    if activity.status != ActivityStatus.DRAFT and TIME_FIELDS & changes.keys():
        raise ACTIVITY_PUBLISHED()
    if "starts_at" in changes and changes["starts_at"] <= now():
        raise ValidationFailed({"starts_at": ["活动开始时间必须晚于现在"]})
    capacity = changes.get("capacity", activity.capacity)
    if capacity < activity.confirmed_count:
        raise CAPACITY_BELOW_CONFIRMED(details={"confirmed_count": activity.confirmed_count})
    rate_before = activity.points_per_hour
    if changes.get("points_per_hour", rate_before) != rate_before:
        _check_rate_change(actor, activity, changes["points_per_hour"])
    for field, value in changes.items():
        setattr(activity, field, value)
    _check_times(activity)
    if "need_id" in changes:
        _check_need(activity)
    fill_free_seats(activity)
    if activity.points_per_hour != rate_before:
        audit(actor.id, activity.community_id, "activity.rate_changed",
              f"activity:{activity.id}", "修改活动积分标准",
              before={"points_per_hour": rate_before},
              after={"points_per_hour": activity.points_per_hour})
    return activity


def _check_rate_change(actor: User, activity: Activity, points_per_hour: int | None) -> None:
    if activity.hours_confirmed_at is not None:
        raise ATTENDANCE_CONFIRMED()
    if points_per_hour is not None:
        _check_rate(actor, activity.community_id, points_per_hour)


def _check_times(activity: Activity) -> None:
    errors = time_rule_errors({field: getattr(activity, field) for field in TIME_FIELDS})
    if errors:
        raise ValidationFailed(errors)


def list_activities(viewer: User, community_id: int | None, status: ActivityStatus | None,
                    starts_from: datetime | None, starts_to: datetime | None) -> Select:
    """Activities the viewer may see, soonest first; drafts only for their managers."""
    query = (select(Activity).options(undefer(Activity.waitlist_count))
             .order_by(Activity.starts_at, Activity.id))
    community_id = community_id or _home_community(viewer)
    if community_id is not None:
        if not (is_admin(viewer) or access.can_see_community(viewer, community_id)
                or _leads_team_in(viewer, community_id)):
            raise FORBIDDEN.saying("只能查看本社区的活动")
        query = query.where(Activity.community_id == community_id)
    elif not is_admin(viewer):
        return query.where(Activity.id.is_(None))
    if not (is_admin(viewer) or (community_id and access.is_staff_of(viewer, community_id))):
        query = query.where(or_(Activity.status != ActivityStatus.DRAFT,
                                Activity.team_id.in_(access.leader_team_ids(viewer))))
    if status is not None:
        query = query.where(Activity.status == status)
    if starts_from is not None:
        query = query.where(Activity.starts_at >= starts_from)
    if starts_to is not None:
        query = query.where(Activity.starts_at < starts_to)
    return query


def _home_community(viewer: User) -> int | None:
    resident = access.residency(viewer)
    if resident is not None:
        return resident.community_id
    staff = sorted(access.staff_community_ids(viewer))
    return staff[0] if staff else None


def _leads_team_in(viewer: User, community_id: int) -> bool:
    team_ids = access.leader_team_ids(viewer)
    return bool(team_ids) and db.session.scalar(select(Team.id).where(
        Team.id.in_(team_ids), Team.community_id == community_id).limit(1)) is not None
