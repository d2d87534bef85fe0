"""What runs periodically, and how often: the one list (wiring layer).

Each sweep is its own RQ job with its own transaction, so one that raises is logged and
never stops another. The clock (``Clock``, a thread in every ``flask --app backend
worker``) looks every few seconds: for each entry whose current slot (``now // interval``)
nobody has taken, it takes the slot with Redis ``SET NX EX`` — so several workers never
run a slot twice — and enqueues the job. Nothing is booked ahead and nothing depends on
the last run having succeeded, so the schedule comes back by itself after a database
outage, a Redis outage (even a Redis restarted empty: a lost slot key only means the
current slot may run once more, and every sweep is safe to run twice) and after every
worker died and one was started again.

Why not ``rq.cron`` (rq 3.0): its scheduler is one more process, two of them enqueue
every job twice, and a Redis error ends it until someone restarts it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, current_app

from backend import jobs
from backend.activities import tasks as activity_tasks
from backend.checkin import tasks as checkin_tasks
from backend.common.clock import now
from backend.common.connections import REDIS_FAILURES, redis_connection
from backend.common.idempotency import sweep_expired_keys
from backend.gifts import tasks as gift_tasks
from backend.notify import tasks as notify_tasks
from backend.parking import tasks as parking_tasks
from backend.points import tasks as points_tasks
from backend.voice import tasks as voice_tasks

log = logging.getLogger(__name__)
SLOT_KEY = "linli:slot:{name}:{slot}"


@jobs.job
def sweep_idempotency_keys() -> int:
    """Idempotency answers older than ``LINLI_IDEMPOTENCY_KEEP_H`` go."""
    return sweep_expired_keys()


@dataclass(frozen=True)
class Periodic:
    job: Callable[[], Any]
    every: str = "OUTBOX_DRAIN_INTERVAL_S"  # the setting holding the interval in seconds

    @property
    def name(self) -> str:
        return f"{self.job.__module__.split('.')[1]}-{self.job.__name__}"


SCHEDULE: tuple[Periodic, ...] = (
    Periodic(notify_tasks.drain_outbox),
    Periodic(activity_tasks.remind_due),
    Periodic(checkin_tasks.sweep_no_shows),
    Periodic(gift_tasks.remind_expiring_reservations),
    Periodic(gift_tasks.expire_reservations),
    Periodic(points_tasks.expire_points),
    Periodic(parking_tasks.sweep_missed_shifts),
    Periodic(parking_tasks.remind_shifts),
    Periodic(notify_tasks.sweep_grants),
    Periodic(sweep_idempotency_keys),
    Periodic(checkin_tasks.sweep_old_scans),
    Periodic(voice_tasks.send_evaluation_invitations, every="EVALUATION_INVITE_INTERVAL_S"),
)


def book_due(at: datetime | None = None,
             schedule: tuple[Periodic, ...] = SCHEDULE) -> list[str]:
    """One look of the clock: enqueue each job whose current slot is still free.

    Returns the names booked. Redis away: nothing is booked, the next look tries again.
    """
    at = at or now()
    connection = redis_connection()
    booked = []
    for entry in schedule:
        interval = int(current_app.config[entry.every])
        slot = int(at.timestamp()) // interval
        key = SLOT_KEY.format(name=entry.name, slot=slot)
        try:
            taken = connection.set(key, 1, nx=True, ex=interval * 4)
        except REDIS_FAILURES as error:
            log.warning("schedule: Redis unavailable, next look tries again: %s", error)
            return booked
        if taken and jobs.enqueue(entry.job, priority=True, job_id=f"sweep-{entry.name}-{slot}",
                                  result_ttl=0, failure_ttl=3600,
                                  meta={"periodic": entry.name}):
            booked.append(entry.name)
    return booked


def intervals(app: Flask, schedule: tuple[Periodic, ...] = SCHEDULE
              ) -> dict[tuple[str, ...], float]:
    """Each periodic job's interval in seconds, by name (the metrics' alert threshold)."""
    return {(entry.name,): float(app.config[entry.every]) for entry in schedule}


def run_all(schedule: tuple[Periodic, ...] = SCHEDULE) -> dict[str, Any]:
    """Every periodic job once, here and now, each on its own: one that raises is logged
    and reported as its exception, and the others still run (tests, one-off runs)."""
    results: dict[str, Any] = {}
    for entry in schedule:
        try:
            results[entry.name] = entry.job()
        except Exception as error:  # reported; the other sweeps go on
            results[entry.name] = error
    return results


def look_every(config: dict[str, Any], schedule: tuple[Periodic, ...] = SCHEDULE) -> float:
    """A fifth of the shortest interval, between 0.2 and 5 seconds."""
    shortest = min(int(config[entry.every]) for entry in schedule)
    return min(5.0, max(0.2, shortest / 5))


class Clock(threading.Thread):
    """The worker's clock thread: ``book_due`` every few seconds until ``stop()``."""

    def __init__(self, app: Flask, schedule: tuple[Periodic, ...] = SCHEDULE) -> None:
        super().__init__(name="linli-clock", daemon=True)
        self.app, self.schedule = app, schedule
        self.stopped = threading.Event()

    def run(self) -> None:
        with self.app.app_context():
            pause = look_every(self.app.config, self.schedule)
            while not self.stopped.is_set():
                try:
                    book_due(schedule=self.schedule)
                except Exception:  # whatever happened, the clock keeps looking
                    log.exception("schedule: a look of the clock failed")
                self.stopped.wait(pause)

    def stop(self) -> None:
        self.stopped.set()
