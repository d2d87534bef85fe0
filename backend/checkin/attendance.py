"""Attendance after the door: lists, leader corrections and sign-off, staff approval (which
credits points, SPEC §6) and rejection, and no-shows as attendance rows."""

from __future__ import annotations

from sqlalchemy import Select, and_, exists, select, update

from backend.activities.models import Activity, Signup, SignupStatus
from backend.activities.noshows import sweep_no_shows
from backend.activities.services import (
    get_managed_activity,
    get_visible_activity,
    mark_hours_confirmed,
)
from backend.auth.models import User
from backend.checkin.models import Attendance, AttendanceCorrection, AttendanceStatus
from backend.checkin.scans import early_allowance
from backend.common.audit import audit
from backend.common.clock import now
from backend.common.transactions import (
    lock,
    lock_where,
    transactional,
    unit_of_work,
    upsert_insert,
)
from backend.communities import access
from backend.communities.models import Community
from backend.communities.services import attach_display_names
from backend.errors import ApiError, NotFound, ValidationFailed
from backend.extensions import db
from backend.notify.services import notify
from backend.points.credits import Credit, are_two_people, mint
from backend.points.models import TransferReason
from backend.refusals import (
    ACTIVITY_NOT_ENDED,
    ATTENDANCE_CHANGED,
    ATTENDANCE_LOCKED,
    ATTENDANCE_NOT_CONFIRMED,
    CHECKOUT_MISSING,
    FORBIDDEN,
    FOUR_EYES_REQUIRED,
    NOT_FOUND,
)


def activity_attendances(actor: User, activity_id: int) -> Select:
    activity = get_managed_activity(actor, activity_id)
    if activity.ends_at <= now():
        with unit_of_work():
            record_no_shows(activity.id)
    return (select(Attendance).where(Attendance.activity_id == activity.id)
            .order_by(Attendance.id))


def community_attendances(actor: User, community_id: int,
                          status: AttendanceStatus | None) -> Select:
    """Staff's work list, e.g. every confirmed attendance waiting for approval."""
    access.require_staff(actor, community_id)
    query = select(Attendance).where(Attendance.community_id == community_id)
    if status is not None:
        query = query.where(Attendance.status == status)
    return query.order_by(Attendance.id)


@transactional
def correct(actor: User, attendance_id: int, minutes: int, reason: str) -> Attendance:
    """A leader's or staff member's fix of the minutes, never by the resident concerned and
    never beyond the activity's own window (plus the early allowance); confirmed hours go
    back to ``open``."""
    attendance = _locked(attendance_id)
    activity = _managed(actor, attendance)
    if attendance.is_locked:
        raise ATTENDANCE_LOCKED()
    if attendance.user_id == actor.id:
        raise FOUR_EYES_REQUIRED.saying("不能修改自己的服务时长，请由其他队长或工作人员办理")
    longest = _longest_minutes(activity)
    if minutes > longest:
        raise ValidationFailed({"minutes": [f"不能超过活动时长（含提前签到）{longest}分钟"]})
    before = {"minutes": attendance.minutes, "status": attendance.status}
    db.session.add(AttendanceCorrection(
        attendance_id=attendance.id, minutes_before=attendance.minutes, minutes_after=minutes,
        reason=reason, author_id=actor.id))
    was_no_show = attendance.status == AttendanceStatus.NO_SHOW
    attendance.correct(minutes)
    if was_no_show:
        _undo_no_show(activity, attendance.user_id)
    audit(actor.id, attendance.community_id, "attendance.corrected",
          f"attendance:{attendance.id}", reason, before=before,
          after={"minutes": attendance.minutes, "status": attendance.status})
    return attendance


def _longest_minutes(activity: Activity) -> int:
    return int((activity.ends_at - activity.starts_at + early_allowance()).total_seconds()) // 60


@transactional
def confirm(actor: User, activity_id: int) -> list[Attendance]:
    """The leader signs off the activity's hours at the rate in force, which is frozen.

    Staff may sign off too (e.g. the hours of a leader who served themself); nobody signs
    off their own row, which stays open for another leader or staff member."""
    activity = get_visible_activity(actor, activity_id)
    if not (access.is_leader_of(actor, activity.team_id)
            or access.is_staff_of(actor, activity.community_id)):
        raise FORBIDDEN.saying("仅本队队长或社区工作人员可以确认服务时长")
    if activity.ends_at > now():
        raise ACTIVITY_NOT_ENDED()
    record_no_shows(activity.id)
    rows = lock_where(
        select(Attendance).where(Attendance.activity_id == activity.id).order_by(Attendance.id))
    missing = [a.id for a in rows if a.status == AttendanceStatus.OPEN
               and a.corrected_minutes is None and a.checked_out_at is None]
    if missing:
        raise CHECKOUT_MISSING(details={"attendance_ids": missing})
    rate = effective_rate(activity)
    confirmed = [a for a in rows if a.status == AttendanceStatus.OPEN and a.user_id != actor.id]
    for attendance in confirmed:
        attendance.confirm(actor.id, rate)
    if confirmed:
        mark_hours_confirmed(activity)
        audit(actor.id, activity.community_id, "attendance.confirmed", f"activity:{activity.id}",
              "确认服务时长", after={"attendance_ids": [a.id for a in confirmed],
                                   "points_per_hour": rate})
    return rows


def effective_rate(activity: Activity) -> int:
    if activity.points_per_hour is not None:
        return activity.points_per_hour
    return db.session.get(Community, activity.community_id).points_per_hour


@transactional
def approve(actor: User, ids: list[int], reviewed: list[dict] | None = None
            ) -> list[Attendance]:
    """Staff approve confirmed hours, each crediting service points exactly once.

    Two people stand behind every credit: the approver is neither the resident nor the one
    who confirmed the row. ``reviewed`` is what the clerk's page showed; a row that has
    changed since answers 409 and nothing in the batch is credited."""
    rows = _decidable(actor, ids)
    pending = [a.id for a in rows if a.status not in (AttendanceStatus.CONFIRMED,
                                                      AttendanceStatus.APPROVED)]
    if pending:
        raise ATTENDANCE_NOT_CONFIRMED(details={"attendance_ids": pending})
    to_credit = [a for a in rows if a.status == AttendanceStatus.CONFIRMED]
    refused = [a.id for a in to_credit
               if not are_two_people(a.user_id, a.confirmed_by, actor.id)]
    if refused:
        raise FOUR_EYES_REQUIRED(details={"attendance_ids": refused})
    _require_unchanged(to_credit, reviewed or [])
    for attendance in to_credit:
        _credit(actor, attendance)
    return rows


def _require_unchanged(rows: list[Attendance], reviewed: list[dict]) -> None:
    shown = {row["id"]: row for row in reviewed}
    changed = [a.id for a in rows if a.id in shown
               and (shown[a.id]["minutes"], shown[a.id]["points"]) != (a.minutes, a.points_due)]
    if changed:
        raise ATTENDANCE_CHANGED(details={"attendance_ids": changed})


def _credit(actor: User, attendance: Attendance) -> None:
    activity = db.session.get(Activity, attendance.activity_id)
    credit = Credit(
        community_id=attendance.community_id, user_id=attendance.user_id,
        reason=TransferReason.SERVICE, points=attendance.points_due or 0,
        ref=f"attendance:{attendance.id}",
        idempotency_key=f"service:attendance:{attendance.id}",
        prepared_by=attendance.confirmed_by, approved_by=actor.id,
        served_from=activity.starts_at, served_to=activity.ends_at)
    try:
        moved = mint(credit)
    except ApiError as error:
        error.details = {**error.details, "attendance_ids": [attendance.id]}
        raise
    points = moved.amount if moved is not None else 0
    before = {"status": attendance.status, "minutes": attendance.minutes,
              "points_per_hour": attendance.points_per_hour}
    attendance.approve(actor.id, points)
    audit(actor.id, attendance.community_id, "attendance.approved",
          f"attendance:{attendance.id}", "审核通过", before=before,
          after={"status": attendance.status, "points": points,
                 "transfer_id": moved.id if moved is not None else None})
    if points > 0:
        notify(attendance.user_id, "points_credited",
               f"「{activity.title}」服务时长已审核，获得{points}积分",
               dedupe_key=f"points_credited:attendance:{attendance.id}",
               data={"title": activity.title, "points": points}, page="pages/points/index")


@transactional
def reject(actor: User, ids: list[int], reason: str) -> list[Attendance]:
    rows = _decidable(actor, ids)
    approved = [a.id for a in rows if a.status == AttendanceStatus.APPROVED]
    if approved:
        raise ATTENDANCE_LOCKED(details={"attendance_ids": approved})
    for attendance in rows:
        if attendance.status != AttendanceStatus.REJECTED:
            before = {"status": attendance.status, "minutes": attendance.minutes}
            attendance.reject(actor.id, reason)
            audit(actor.id, attendance.community_id, "attendance.rejected",
                  f"attendance:{attendance.id}", reason, before=before,
                  after={"status": attendance.status})
    return rows


def record_no_shows(activity_id: int | None = None) -> int:
    """Confirmed residents who never came become ``no_show`` attendances (flush only).

    Returns how many sign-ups were newly marked."""
    swept = sweep_no_shows(activity_id=activity_id)
    no_shows = (select(Signup.activity_id, Activity.community_id, Signup.user_id)
                .join(Activity, Activity.id == Signup.activity_id)
                .where(Signup.status == SignupStatus.NO_SHOW,
                       ~exists().where(and_(Attendance.activity_id == Signup.activity_id,
                                            Attendance.user_id == Signup.user_id))))
    if activity_id is not None:
        no_shows = no_shows.where(Signup.activity_id == activity_id)
    rows = [dict(activity_id=a, community_id=c, user_id=u, status=AttendanceStatus.NO_SHOW,
                 walk_in=False, served_minutes=0, minutes=0, created_at=now())
            for a, c, u in db.session.execute(no_shows)]
    if rows:
        db.session.execute(upsert_insert(Attendance).values(rows).on_conflict_do_nothing(
            index_elements=["activity_id", "user_id"]))
    # An exit scanned with no entry leaves an open row behind: it is a no-show too.
    db.session.execute(
        update(Attendance).where(
            Attendance.status == AttendanceStatus.OPEN, Attendance.checked_in_at.is_(None),
            Attendance.corrected_minutes.is_(None),
            exists().where(and_(Signup.activity_id == Attendance.activity_id,
                                Signup.user_id == Attendance.user_id,
                                Signup.status == SignupStatus.NO_SHOW)))
        .values(status=AttendanceStatus.NO_SHOW)
        .execution_options(synchronize_session=False))
    return swept


def _undo_no_show(activity: Activity, user_id: int) -> None:
    # The leader vouches that the resident came: it must not count towards a suspension.
    db.session.execute(
        update(Signup).where(Signup.activity_id == activity.id, Signup.user_id == user_id,
                             Signup.status == SignupStatus.NO_SHOW)
        .values(status=SignupStatus.CONFIRMED, checked_in_at=activity.starts_at)
        .execution_options(synchronize_session=False))


def _locked(attendance_id: int) -> Attendance:
    attendance = lock(Attendance, attendance_id)
    if attendance is None:
        raise NOT_FOUND.saying("找不到该签到记录")
    return attendance


def _managed(actor: User, attendance: Attendance) -> Activity:
    try:
        return get_managed_activity(actor, attendance.activity_id)
    except NotFound:
        raise NOT_FOUND.saying("找不到该签到记录") from None


def _decidable(actor: User, ids: list[int]) -> list[Attendance]:
    """The rows, locked in id order; another community's (or a missing) id is a 404."""
    if not access.staff_community_ids(actor):
        raise FORBIDDEN.saying("只有社区工作人员可以审核服务时长")
    unique_ids = sorted(set(ids))
    rows = lock_where(
        select(Attendance).where(Attendance.id.in_(unique_ids)).order_by(Attendance.id))
    visible = {a.id for a in rows if access.is_staff_of(actor, a.community_id)}
    if len(visible) != len(unique_ids):
        raise NOT_FOUND.saying(
            "找不到该签到记录", details={"attendance_ids": sorted(set(unique_ids) - visible)},
        )
    return rows


def with_display_names(actor: User, rows: list[Attendance]) -> list[Attendance]:
    """Attach each resident's name as ``actor`` may see it (masked for leaders)."""
    return attach_display_names(actor, rows, lambda row: row.community_id)
