"""The activities' RQ jobs: the reminders 24 h and 1 h before an activity, booked at their
moments when it is published, and the scheduled catch-up after a Redis outage."""

from __future__ import annotations

from backend import jobs
from backend.activities import reminders
from backend.activities.models import Activity
from backend.common.clock import now


@jobs.job
def send_activity_reminders(activity_id: int, lead: str) -> int:
    return reminders.remind_activity(activity_id, lead)


@jobs.job
def remind_due() -> int:
    """Reminders whose moment has come (a booked job lost with Redis, say)."""
    return reminders.remind_due_activities()


def schedule_reminders(activity: Activity) -> None:
    """Book the reminder jobs at their moments (after the publishing commit); if Redis is
    away the scheduled catch-up sends them."""
    for lead, before in reminders.LEADS.items():
        at = activity.starts_at - before
        if at > now() and not jobs.enqueue(
                send_activity_reminders, activity.id, lead, at=at, priority=True,
                job_id=reminders.reminder_job_id(activity.id, lead), result_ttl=0):
            return


def unschedule_reminders(activity_id: int) -> None:
    # If Redis is away the job checks the activity's status when it runs anyway.
    jobs.unschedule(*(reminders.reminder_job_id(activity_id, lead) for lead in reminders.LEADS),
                    priority=True)
