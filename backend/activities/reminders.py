"""Activity reminders, 24 h and 1 h before (SPEC §9).

Scheduled as RQ jobs when an activity is published and removed when it is cancelled
(``activities/tasks.py``); the scheduled catch-up runs the same code for anything a Redis
outage made it miss. The notice's dedupe key makes each reminder happen once per
resident, however often it runs.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from backend.activities.models import Activity, ActivityStatus, Signup, SignupStatus
from backend.common.clock import LOCAL_TZ, now
from backend.extensions import db
from backend.notify.services import notify

LEADS = {"24h": timedelta(hours=24), "1h": timedelta(hours=1)}


def remind_activity(activity_id: int, lead: str) -> int:
    """Remind every confirmed resident of a published activity; returns notices written."""
    activity = db.session.get(Activity, activity_id)
    if activity is None or activity.status != ActivityStatus.PUBLISHED \
            or activity.starts_at <= now():
        return 0
    signups = db.session.scalars(select(Signup).where(
        Signup.activity_id == activity_id, Signup.status == SignupStatus.CONFIRMED))
    starts = activity.starts_at.astimezone(LOCAL_TZ).strftime("%m月%d日 %H:%M")
    written = 0
    for signup in signups:
        written += notify(signup.user_id, "activity_reminder",
                          f"「{activity.title}」将于{starts}开始，地点：{activity.location}",
                          dedupe_key=f"activity_reminder:{activity.id}:{signup.user_id}:{lead}",
                          data={"activity_id": activity.id,
                                "at": activity.starts_at.isoformat()},
                          page=activity.page)
    db.session.commit()
    return written


def remind_due_activities() -> int:
    """Catch-up for reminders whose moment has come (and whose lead is still the latest)."""
    current = now()
    written = 0
    for lead, before in LEADS.items():
        shorter = min((d for d in LEADS.values() if d < before), default=timedelta(0))
        due = db.session.scalars(select(Activity.id).where(
            Activity.status == ActivityStatus.PUBLISHED,
            Activity.starts_at > current + shorter,
            Activity.starts_at <= current + before))
        for activity_id in list(due):
            written += remind_activity(activity_id, lead)
    return written


def reminder_job_id(activity_id: int, lead: str) -> str:
    return f"reminder-{activity_id}-{lead}"
