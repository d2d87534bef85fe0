"""RQ in one place (bottom layer, imports no domain): the queues, ``enqueue`` with the
Redis-down fallback, and the ``@job`` decorator every domain's ``tasks.py`` uses.

Jobs take ids, never objects; job ids use only letters, digits, ``_`` and ``-``; every job
is safe to run twice. Jobs run inside the worker's app context (``flask --app backend
worker`` pushes it): this module never builds an app.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from rq import Queue, get_current_job
from rq.exceptions import NoSuchJobError

from backend.common.connections import REDIS_FAILURES, redis_connection
from backend.common.observability import current_request_id
from backend.extensions import db

log = logging.getLogger(__name__)
QUEUE_NAME = "linli"
# Scheduled sweeps and reminders must not wait behind a fan-out of thousands of sends.
PRIORITY_QUEUE_NAME = "linli-high"
QUEUE_NAMES = (PRIORITY_QUEUE_NAME, QUEUE_NAME)
# When each periodic job (``meta["periodic"]``, see backend/schedule.py) last succeeded.
PERIODIC_SUCCESS_KEY = "linli:periodic:last_success"

P = ParamSpec("P")
R = TypeVar("R")


def queue() -> Queue:
    return Queue(QUEUE_NAME, connection=redis_connection())


def priority_queue() -> Queue:
    return Queue(PRIORITY_QUEUE_NAME, connection=redis_connection())


def enqueue(func: Callable[..., Any], *args: Any, at: datetime | None = None,
            priority: bool = False, **options: Any) -> bool:
    """Hand ``func(*args)`` to RQ (at ``at``, if given); ``False`` instead of raising when
    Redis is away, so the caller's rows stay where a scheduled sweep finds them.

    ``options`` are RQ's (``job_id``, ``retry``, ``result_ttl``, ``job_timeout``, ``meta`` …).
    The request (or job) that enqueues is named in ``meta["request_id"]``, so the worker's
    log lines for the job carry the request's id.
    """
    target = priority_queue() if priority else queue()
    request_id = current_request_id()
    if request_id is not None:
        options["meta"] = {**options.get("meta", {}), "request_id": request_id}
    try:
        if at is not None:
            target.enqueue_at(at, func, *args, **options)
        else:
            target.enqueue(func, *args, **options)
    except REDIS_FAILURES as error:
        log.warning("%s%s not enqueued, Redis unavailable: %s", func.__name__, args, error)
        return False
    return True


def unschedule(*job_ids: str, priority: bool = False) -> bool:
    """Remove scheduled jobs that have not run yet; ``False`` when Redis is away."""
    registry = (priority_queue() if priority else queue()).scheduled_job_registry
    try:
        for job_id in job_ids:
            with contextlib.suppress(NoSuchJobError):  # never scheduled, or already ran
                registry.remove(job_id, delete_job=True)
    except REDIS_FAILURES as error:
        log.warning("jobs %s not unscheduled, Redis unavailable: %s", job_ids, error)
        return False
    return True


def queue_depths() -> dict[tuple[str, ...], float]:
    """Jobs waiting in each queue (one LLEN each), for the metrics scrape."""
    connection = redis_connection()
    return {(name,): Queue(name, connection=connection).count for name in QUEUE_NAMES}


def periodic_successes() -> dict[tuple[str, ...], float]:
    """Unix time each periodic job last succeeded, by its schedule name (one HGETALL)."""
    stored = redis_connection().hgetall(PERIODIC_SUCCESS_KEY)
    return {(name.decode(),): float(at) for name, at in stored.items()}


def _note_periodic_success() -> None:
    """Stamp the running job's schedule entry as succeeded now (a missed stamp only makes
    the job look late on the dashboard; the job's work is done)."""
    running = get_current_job()
    name = running.meta.get("periodic") if running is not None else None
    if name:
        try:
            redis_connection().hset(PERIODIC_SUCCESS_KEY, name, f"{time.time():.3f}")
        except REDIS_FAILURES as error:
            log.warning("periodic job %s succeeded, not stamped: %s", name, error)


def current_job_id() -> str:
    """The running RQ job's id, or ``inline`` when called outside a worker (tests, CLI)."""
    job = get_current_job()
    return job.id if job is not None else "inline"


def job(func: Callable[P, R]) -> Callable[P, R]:
    """An RQ job: logs its job id when it ends, and rolls the session back when it raises
    (the worker's session is shared by the jobs it runs; a failed one must not poison the
    next, e.g. after the database went away mid-transaction)."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = func(*args, **kwargs)
        except BaseException:
            with contextlib.suppress(Exception):  # the database may be the one away
                db.session.rollback()
            log.exception("job %s %s%s failed", current_job_id(), func.__name__, args)
            raise
        log.info("job %s %s%s: %s", current_job_id(), func.__name__, args, result)
        _note_periodic_success()
        return result

    return run
