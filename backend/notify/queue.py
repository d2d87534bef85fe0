"""RQ in one place: the queue, and handing committed outbox rows to it.

Jobs take ids, never objects; job ids use only letters, digits, ``_`` and ``-``.
Enqueueing happens after the commit that wrote the rows (a session hook); if Redis is
down the rows stay ``pending`` and the periodic drain hands them over later.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from flask import current_app
from rq import Queue, Retry
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from backend.common.connections import REDIS_FAILURES, redis_connection

log = logging.getLogger(__name__)
QUEUE_NAME = "linli"
# Ticks and reminders must not wait behind a fan-out of thousands of sends.
PRIORITY_QUEUE_NAME = "linli-high"
_NEW_NOTICES = "linli_new_notifications"


def queue() -> Queue:
    return Queue(QUEUE_NAME, connection=redis_connection())


def priority_queue() -> Queue:
    return Queue(PRIORITY_QUEUE_NAME, connection=redis_connection())


def send_retry() -> Retry:
    intervals = current_app.config["NOTIFY_RETRY_INTERVALS"]
    return Retry(max=len(intervals), interval=intervals)


def enqueue_send(notification_id: int, send_after: datetime | None = None) -> bool:
    """Hand one outbox row to RQ; False (and the row stays pending) if Redis is away."""
    from backend.notify.tasks import send_notification

    # A fresh job id each time: the row, not RQ, decides whether anything is sent.
    options = {"job_id": f"notify-{notification_id}-{uuid.uuid4().hex[:12]}",
               "retry": send_retry(),
               "result_ttl": 0, "failure_ttl": 7 * 24 * 3600, "job_timeout": 60}
    try:
        if send_after is not None:
            queue().enqueue_at(send_after, send_notification, notification_id, **options)
        else:
            queue().enqueue(send_notification, notification_id, **options)
    except REDIS_FAILURES as error:
        log.warning("notification %s left in the outbox, Redis unavailable: %s",
                    notification_id, error)
        return False
    return True


def remember_new_notice(session: Session, notification_id: int,
                        send_after: datetime | None) -> None:
    session.info.setdefault(_NEW_NOTICES, []).append((notification_id, send_after))


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
        notices = session.info.pop(_NEW_NOTICES, [])
        if notices:
            enqueue_many(notices)

    @event.listens_for(Session, "after_rollback")
    def forget(session: Session) -> None:
        if not session.in_nested_transaction():
            session.info.pop(_NEW_NOTICES, None)


def enqueue_many(notices: list[tuple[int, datetime | None]]) -> int:
    """Enqueue (id, send_after) pairs and stamp ``queued_at``; stops when Redis is away."""
    from backend.common.clock import now
    from backend.extensions import db
    from backend.notify.models import Notification

    queued = []
    for notification_id, send_after in notices:
        if not enqueue_send(notification_id, send_after):
            break  # Redis is down: the outbox drain picks the rest up later
        queued.append(notification_id)
    if queued:
        # Its own connection: this runs inside another session's commit.
        with db.engine.begin() as connection:
            connection.execute(update(Notification).where(Notification.id.in_(queued))
                               .values(queued_at=now()))
    return len(queued)
