"""RQ jobs: send one notice, the periodic outbox tick, activity reminders.

Every job is safe to run twice: the outbox row is claimed in its own transaction before
WeChat is called, so a duplicated or retried job finds it already claimed and stops.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

from flask import current_app, has_app_context
from rq import get_current_job

from backend.common.clock import now
from backend.common.connections import wechat_client
from backend.common.idempotency import sweep_expired_keys
from backend.extensions import db
from backend.notify import outbox
from backend.notify.services import sweep_spent_grants
from backend.wechat import WeChatError

log = logging.getLogger(__name__)
_worker_app = None


class RetryableSendError(RuntimeError):
    """Raised so that RQ retries the job with back-off (Retry set at enqueue)."""


def in_app_context(job):
    """Jobs run inside the app: the worker's own, or one created once per process."""

    @functools.wraps(job)
    def run(*args, **kwargs):
        if has_app_context():
            return job(*args, **kwargs)
        global _worker_app
        if _worker_app is None:
            from backend import create_app

            _worker_app = create_app()
        with _worker_app.app_context():
            return job(*args, **kwargs)

    return run


def _job_id() -> str:
    job = get_current_job()
    return job.id if job is not None else "inline"


@in_app_context
def send_notification(notification_id: int) -> str:
    claim = outbox.claim(notification_id)
    if claim is None:
        return "nothing to send"
    try:
        msgid = wechat_client().send_subscribe_message(
            claim.openid, claim.template_id, claim.data, page=claim.page)
    except WeChatError as error:
        outcome = outbox.record_failure(notification_id, error)
        # "failed" needs a person (e.g. 40037, a template id the mini-program lacks): say so.
        level = logging.ERROR if outcome == "failed" else logging.INFO
        log.log(level, "job %s notification %s: %s (%s)", _job_id(), notification_id,
                outcome, error)
        if outcome == "retry":
            raise RetryableSendError(str(error)) from error
        return outcome
    outbox.record_sent(notification_id, msgid)
    log.info("job %s notification %s sent as msgid %s", _job_id(), notification_id, msgid)
    return "sent"


@in_app_context
def maintenance_tick(reschedule: bool = True) -> dict[str, int]:
    """The periodic work: drain the outbox, remind, mark no-shows, lapse unclaimed gift
    reservations, expire old points; then book the next tick."""
    from backend.checkin.attendance import record_no_shows
    from backend.gifts import tasks as gift_tasks
    from backend.notify import reminders
    from backend.points.expiry import expire_due_points

    report = outbox.drain()
    report["reminded"] = reminders.remind_due_activities()
    report["no_shows"] = record_no_shows()
    db.session.commit()
    report["gift_reminders"] = gift_tasks.remind_expiring_reservations()
    report["reservations_expired"] = gift_tasks.expire_reservations()
    report["points_expired"] = expire_due_points()["points"]
    from backend.parking.tasks import duty_tick

    report.update(duty_tick())
    report.update(_retention_sweeps())
    if reschedule:
        schedule_next_tick()
    log.info("job %s maintenance tick: %s", _job_id(), report)
    return report


def _retention_sweeps() -> dict[str, int]:
    """Each sweep on its own: one failing (logged) never stops the others or the tick."""
    swept: dict[str, int] = {}
    for name, sweep in (("idempotency_keys_swept", sweep_expired_keys),
                        ("grants_swept", sweep_spent_grants)):
        try:
            swept[name] = sweep()
        except Exception:  # reported; the next tick tries again
            db.session.rollback()
            log.exception("job %s retention sweep %s failed", _job_id(), name)
            swept[name] = -1
    return swept


def schedule_next_tick() -> None:
    """One chain of ticks however many workers run: the next slot is taken with SET NX."""
    from backend.notify.queue import priority_queue

    interval = current_app.config["OUTBOX_DRAIN_INTERVAL_S"]
    connection = priority_queue().connection
    slot = int((now() + timedelta(seconds=interval)).timestamp()) // interval
    if connection.set(f"linli:tick:{slot}", 1, nx=True, ex=interval * 4):
        priority_queue().enqueue_in(timedelta(seconds=interval), maintenance_tick,
                           job_id=f"tick-{slot}", result_ttl=0)


@in_app_context
def send_activity_reminders(activity_id: int, lead: str) -> int:
    from backend.notify import reminders

    return reminders.remind_activity(activity_id, lead)
