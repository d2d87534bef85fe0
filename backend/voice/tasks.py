"""The evaluation prompt (SPEC §9a): once an activity has ended, everyone who may evaluate
it — its attendees (confirmed or approved) and the residents it lists as beneficiaries,
never its own team's leaders — gets one notice inviting them to. Run it periodically (an
hourly sweep is plenty); it looks only at activities still inside the 14-day window, and
the outbox's dedupe key (``evaluation_invite:<activity>:<user>``) sees to one invitation
per person and activity however often it runs, so attendance confirmed days after the end
is invited by a later run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, union

from backend import jobs
from backend.activities.models import Activity, ActivityStatus
from backend.checkin.models import Attendance
from backend.common.clock import LOCAL_TZ
from backend.common.clock import now as clock_now
from backend.common.transactions import transactional
from backend.communities.models import TeamMember, TeamRole
from backend.extensions import db
from backend.notify.models import Notification
from backend.notify.services import notify
from backend.voice.evaluations import ATTENDED, EVALUATION_WINDOW, evaluate_until
from backend.voice.models import ActivityBeneficiary, Evaluation


def _key(activity_id: int, user_id: int) -> str:
    return f"evaluation_invite:{activity_id}:{user_id}"


@jobs.job
def send_evaluation_invitations() -> int:
    """The scheduled sweep (``backend/schedule.py``)."""
    return invite_evaluations()


def invite_evaluations(now: datetime | None = None) -> int:
    """Invite everyone not yet invited to evaluate the activities ended in the last 14 days;
    one transaction per activity. Returns how many notices were written."""
    current = now or clock_now()
    activity_ids = list(db.session.scalars(select(Activity.id).where(
        Activity.status == ActivityStatus.PUBLISHED, Activity.ends_at <= current,
        Activity.ends_at > current - EVALUATION_WINDOW).order_by(Activity.ends_at)))
    db.session.rollback()
    return sum(_invite(activity_id) for activity_id in activity_ids)


@transactional
def _invite(activity_id: int) -> int:
    activity = db.session.get(Activity, activity_id)
    people = union(
        select(Attendance.user_id.label("user_id")).where(
            Attendance.activity_id == activity_id, Attendance.status.in_(ATTENDED)),
        select(ActivityBeneficiary.user_id.label("user_id")).where(
            ActivityBeneficiary.activity_id == activity_id)).subquery()
    leaders = select(TeamMember.user_id).where(TeamMember.team_id == activity.team_id,
                                               TeamMember.role == TeamRole.LEADER)
    evaluated = select(Evaluation.user_id).where(Evaluation.activity_id == activity_id)
    candidates = list(db.session.scalars(select(people.c.user_id).where(
        people.c.user_id.not_in(leaders), people.c.user_id.not_in(evaluated))
        .order_by(people.c.user_id)))
    if not candidates:
        return 0
    invited = set(db.session.scalars(select(Notification.dedupe_key).where(
        Notification.dedupe_key.in_([_key(activity_id, uid) for uid in candidates]))))
    until = evaluate_until(activity).astimezone(LOCAL_TZ)
    written = 0
    for user_id in candidates:
        if _key(activity_id, user_id) in invited:
            continue
        written += notify(user_id, "evaluation_invite",
                          f"活动「{activity.title}」已结束，请为它打分（{until:%m月%d日}前）",
                          dedupe_key=_key(activity_id, user_id),
                          data={"activity_id": activity_id, "at": until.isoformat()},
                          page=activity.page)
    return written
