"""notify's RQ jobs: send one notice, drain the outbox, sweep spent grants; and the relay
that hands committed outbox rows to RQ.

Every job is safe to run twice: the outbox row is claimed in its own transaction before
WeChat is called, so a duplicated or retried job finds it already claimed and stops.
Enqueueing happens after the commit that wrote the rows (a session hook); if Redis is
down the rows stay ``pending`` and the scheduled drain hands them over later.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from flask import current_app
from rq import Retry
from sqlalchemy import event, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from backend import jobs
from backend.common.clock import now
from backend.common.connections import wechat_client
from backend.extensions import db
from backend.notify import outbox
from backend.notify.models import Notification
from backend.notify.services import sweep_spent_grants
from backend.wechat import WeChatError

log = logging.getLogger(__name__)


class RetryableSendError(RuntimeError):
    """Raised so that RQ retries the job with back-off (Retry set at enqueue)."""


@jobs.job
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
        log.log(level, "job %s notification %s: %s (%s)", jobs.current_job_id(),
                notification_id, outcome, error)
        if outcome == "retry":
            raise RetryableSendError(str(error)) from error
        return outcome
    outbox.record_sent(notification_id, msgid)
    log.info("job %s notification %s sent as msgid %s", jobs.current_job_id(),
             notification_id, msgid)
    return "sent"


def send_retry() -> Retry:
    intervals = current_app.config["NOTIFY_RETRY_INTERVALS"]
    return Retry(max=len(intervals), interval=intervals)


def enqueue_send(notification_id: int, send_after: datetime | None = None) -> bool:
    """Hand one outbox row to RQ; False (and the row stays pending) if Redis is away."""
    # A fresh job id each time: the row, not RQ, decides whether anything is sent.
    return jobs.enqueue(send_notification, notification_id, at=send_after,
                        job_id=f"notify-{notification_id}-{uuid.uuid4().hex[:12]}",
                        retry=send_retry(), result_ttl=0, failure_ttl=7 * 24 * 3600,
                        job_timeout=60)


def enqueue_many(notices: list[tuple[int, datetime | None]]) -> int:
    """Enqueue (id, send_after) pairs and stamp ``queued_at``; stops when Redis is away."""
    queued = []
    for notification_id, send_after in notices:
        if not enqueue_send(notification_id, send_after):
            break  # Redis is down: the outbox drain picks the rest up later
        queued.append(notification_id)
    if queued:
        try:
            # Its own connection: this runs inside another session's commit.
            with db.engine.begin() as connection:
                connection.execute(update(Notification).where(Notification.id.in_(queued))
                                   .values(queued_at=now()))
        except DBAPIError as error:
            # The database went away just after the commit that wrote them, which stands.
            # Unstamped rows are enqueued again by the drain, harmlessly: the row, not the
            # job, decides whether anything is sent.
            log.warning("notify: could not stamp %d queued notice(s): %s", len(queued), error)
    return len(queued)


@jobs.job
def drain_outbox() -> dict[str, int]:
    """Give up on interrupted sends, and enqueue the pending notices nobody handed to RQ."""
    interrupted = outbox.give_up_interrupted()
    return {"interrupted": interrupted, "enqueued": enqueue_many(outbox.unqueued_due())}


@jobs.job
def sweep_grants() -> int:
    return sweep_spent_grants()


_installed = False


def install_relay() -> None:
    """After each commit, enqueue the notices that commit created (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True

    # SQLAlchemy fires these for savepoints too (``begin_nested``): only the outermost
    # transaction's end decides whether the notices exist. Relaying at a savepoint would
    # enqueue notices before their rows are committed, and on SQLite wait for the write
    # lock the outer transaction still holds.
    @event.listens_for(Session, "after_commit")
    def relay(session: Session) -> None:
        if session.in_nested_transaction():
            return
        notices = session.info.pop(outbox.NEW_NOTICES, [])
        if notices:
            enqueue_many(notices)

    @event.listens_for(Session, "after_rollback")
    def forget(session: Session) -> None:
        if not session.in_nested_transaction():
            session.info.pop(outbox.NEW_NOTICES, None)
