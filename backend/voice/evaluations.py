"""Who an activity serves and what they think of it (民事民评, SPEC §9a): "whoever
benefits evaluates". Residents who attended (confirmed or approved attendance) or whom the
activity lists as beneficiaries rate it 1–5 once, from its end until 14 days later; the
leaders of the activity's own team cannot. Staff may hide an abusive evaluation (audited);
nothing is ever edited. One evaluation per resident and activity is a UNIQUE constraint,
so a concurrent double post ends in one row and one 409.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, insert, or_, select
from sqlalchemy.exc import IntegrityError

from backend.activities import services as activities
from backend.activities.models import Activity, ActivityStatus
from backend.auth.models import User
from backend.checkin.models import Attendance, AttendanceStatus
from backend.common.audit import audit
from backend.common.clock import now
from backend.common.pagination import paginate
from backend.common.transactions import lock, transactional
from backend.communities import access
from backend.communities.models import Resident, TeamMember, TeamRole
from backend.communities.services import display_names, resident_names
from backend.errors import ApiError, NotFound
from backend.extensions import db
from backend.voice.models import ActivityBeneficiary, Evaluation

EVALUATION_WINDOW = timedelta(days=14)
ATTENDED = (AttendanceStatus.CONFIRMED, AttendanceStatus.APPROVED)


# -- beneficiaries -------------------------------------------------------------------------

@transactional
def set_beneficiaries(actor: User, activity_id: int, user_ids: list[int]) -> dict[str, Any]:
    """Replace the activity's list of the residents it serves (its team's leader or staff);
    only residents of the activity's community may be on it."""
    activity = activities.get_managed_activity(actor, activity_id)
    wanted = list(dict.fromkeys(user_ids))
    known = set(db.session.scalars(select(Resident.user_id).where(
        Resident.user_id.in_(wanted), Resident.community_id == activity.community_id))
    ) if wanted else set()
    offending = [uid for uid in wanted if uid not in known]
    if offending:
        raise ApiError("validation_error", "只能登记本社区的居民为受益人", 422,
                       {"fields": {"user_ids": [f"不是本社区居民：{offending}"]},
                        "user_ids": offending})
    lock(Activity, activity.id)  # two replacements at once: one after the other
    db.session.execute(delete(ActivityBeneficiary).where(
        ActivityBeneficiary.activity_id == activity.id))
    if wanted:
        db.session.execute(insert(ActivityBeneficiary), [
            {"activity_id": activity.id, "user_id": uid} for uid in wanted])
    audit(actor.id, activity.community_id, "activity.beneficiaries_set",
          f"activity:{activity.id}", "登记受益居民", after={"user_ids": wanted})
    return _beneficiary_list(actor, activity, wanted)


def beneficiaries(actor: User, activity_id: int) -> dict[str, Any]:
    activity = activities.get_managed_activity(actor, activity_id)
    user_ids = list(db.session.scalars(select(ActivityBeneficiary.user_id).where(
        ActivityBeneficiary.activity_id == activity.id).order_by(ActivityBeneficiary.user_id)))
    return _beneficiary_list(actor, activity, user_ids)


def _beneficiary_list(actor: User, activity: Activity, user_ids: list[int]) -> dict[str, Any]:
    names = display_names(actor, activity.community_id, user_ids)
    return {"activity_id": activity.id,
            "items": [{"user_id": uid, "display_name": names[uid]} for uid in user_ids]}


# -- evaluating ----------------------------------------------------------------------------

def may_evaluate(user_id: int, activity: Activity) -> bool:
    """Attended it, or is listed as one of the people it served; never its own leaders."""
    if _leads(user_id, activity.team_id):
        return False
    attended = select(Attendance.id).where(
        Attendance.activity_id == activity.id, Attendance.user_id == user_id,
        Attendance.status.in_(ATTENDED))
    listed = select(ActivityBeneficiary.user_id).where(
        ActivityBeneficiary.activity_id == activity.id, ActivityBeneficiary.user_id == user_id)
    return bool(db.session.scalar(select(or_(exists(attended), exists(listed)))))


def _leads(user_id: int, team_id: int) -> bool:
    return db.session.scalar(select(exists().where(
        TeamMember.team_id == team_id, TeamMember.user_id == user_id,
        TeamMember.role == TeamRole.LEADER)))


def evaluate_until(activity: Activity) -> datetime:
    return activity.ends_at + EVALUATION_WINDOW


@transactional
def evaluate(actor: User, activity_id: int, data: dict[str, Any]) -> Evaluation:
    activity = activities.get_visible_activity(actor, activity_id)
    if not access.is_resident_of(actor, activity.community_id) or not may_evaluate(
            actor.id, activity):
        raise ApiError("forbidden", "只有参加活动或受益的居民可以评价（本队队长除外）", 403)
    if activity.status == ActivityStatus.CANCELLED:
        raise ApiError("activity_cancelled", "活动已取消", 409)
    current = now()
    if current < activity.ends_at:
        raise ApiError("activity_not_ended", "活动结束后才能评价", 409)
    if current > evaluate_until(activity):
        raise ApiError("evaluation_closed", "活动结束已超过14天，评价已关闭", 409)
    if _evaluated(actor.id, activity.id):
        raise ApiError("already_evaluated", "您已评价过该活动", 409)
    evaluation = Evaluation(activity_id=activity.id, user_id=actor.id, rating=data["rating"],
                            comment=data.get("comment") or None, hidden=False)
    try:
        # A concurrent first post wins on the UNIQUE constraint: this one is the 409.
        with db.session.begin_nested():
            db.session.add(evaluation)
    except IntegrityError:
        raise ApiError("already_evaluated", "您已评价过该活动", 409) from None
    return evaluation


def _evaluated(user_id: int, activity_id: int) -> bool:
    return db.session.scalar(select(exists().where(
        Evaluation.activity_id == activity_id, Evaluation.user_id == user_id)))


# -- summaries ---------------------------------------------------------------------------

def summaries(activity_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Count, average and distribution per activity; hidden evaluations do not count."""
    result = {aid: {"activity_id": aid, "count": 0, "average": None,
                    "distribution": {str(r): 0 for r in range(1, 6)}} for aid in activity_ids}
    if not activity_ids:
        return result
    rows = db.session.execute(select(
        Evaluation.activity_id, Evaluation.rating, func.count()).where(
        Evaluation.activity_id.in_(activity_ids), Evaluation.hidden.is_(False))
        .group_by(Evaluation.activity_id, Evaluation.rating))
    for activity_id, rating, count in rows:
        result[activity_id]["distribution"][str(rating)] = count
    for summary in result.values():
        counts = summary["distribution"]
        total = sum(counts.values())
        summary["count"] = total
        if total:
            summary["average"] = round(sum(int(r) * n for r, n in counts.items()) / total, 2)
    return result


def summary(actor: User, activity_id: int) -> dict[str, Any]:
    activity = activities.get_visible_activity(actor, activity_id)
    result = summaries([activity.id])[activity.id]
    if access.is_staff_of(actor, activity.community_id) or access.is_leader_of(
            actor, activity.team_id):
        result["comments"] = _comments(activity.id)
    return result


def _comments(activity_id: int) -> list[dict[str, Any]]:
    rows = list(db.session.scalars(select(Evaluation).where(
        Evaluation.activity_id == activity_id, Evaluation.hidden.is_(False),
        Evaluation.comment.is_not(None)).order_by(Evaluation.id.desc())))
    names = resident_names([row.user_id for row in rows])
    return [{"id": row.id, "rating": row.rating, "comment": row.comment,
             "author": access.mask_name(names[row.user_id].real_name)
             if row.user_id in names else "居民", "created_at": row.created_at}
            for row in rows]


# -- hiding ------------------------------------------------------------------------------

@transactional
def hide(actor: User, evaluation_id: int, reason: str) -> Evaluation:
    evaluation = db.session.get(Evaluation, evaluation_id)
    activity = db.session.get(Activity, evaluation.activity_id) if evaluation else None
    if activity is None or not access.can_see_community(actor, activity.community_id):
        raise NotFound("找不到该评价")
    access.require_staff(actor, activity.community_id)
    evaluation = lock(Evaluation, evaluation_id)
    if evaluation.hidden:
        raise ApiError("evaluation_already_hidden", "该评价已被隐藏", 409)
    evaluation.hide(actor.id, reason)
    audit(actor.id, activity.community_id, "evaluation.hidden", f"evaluation:{evaluation.id}",
          reason, before={"hidden": False}, after={"hidden": True})
    db.session.flush()
    return evaluation


# -- what is still to evaluate -----------------------------------------------------------

def pending_for(actor: User):
    """Activities the actor may still evaluate, the soonest to close first."""
    current = now()
    attended = select(Attendance.activity_id).where(
        Attendance.user_id == actor.id, Attendance.status.in_(ATTENDED))
    listed = select(ActivityBeneficiary.activity_id).where(
        ActivityBeneficiary.user_id == actor.id)
    led = select(TeamMember.team_id).where(TeamMember.user_id == actor.id,
                                           TeamMember.role == TeamRole.LEADER)
    done = select(Evaluation.activity_id).where(Evaluation.user_id == actor.id)
    return (select(Activity).where(
        or_(Activity.id.in_(attended), Activity.id.in_(listed)),
        Activity.status == ActivityStatus.PUBLISHED,
        Activity.ends_at <= current, Activity.ends_at > current - EVALUATION_WINDOW,
        Activity.team_id.not_in(led), Activity.id.not_in(done))
        .order_by(Activity.ends_at, Activity.id))


def pending(actor: User, page: int = 1, per_page: int = 20) -> dict[str, Any]:
    result = paginate(pending_for(actor), page, per_page)
    result["items"] = [pending_view(activity) for activity in result["items"]]
    return result


def pending_view(activity: Activity) -> dict[str, Any]:
    return {"activity_id": activity.id, "title": activity.title,
            "community_id": activity.community_id, "ends_at": activity.ends_at,
            "evaluate_until": evaluate_until(activity)}
