"""``flask --app backend <command>``: operational commands, and the worker."""

from __future__ import annotations

import logging
import time
from typing import Any

import click
from flask import Flask, current_app
from rq import SimpleWorker
from rq.exceptions import StopRequested
from sqlalchemy import select

from backend import jobs, schedule
from backend.activities.noshows import sweep_no_shows
from backend.common.connections import REDIS_FAILURES
from backend.communities.models import Community
from backend.demo import seed
from backend.extensions import db
from backend.points import reconciliation

log = logging.getLogger(__name__)


class SessionPerJobWorker(SimpleWorker):
    """No fork per job, and each job starts on a clean session: one that died with the
    database (or a transaction a job left open) never reaches the next job."""

    def perform_job(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return super().perform_job(*args, **kwargs)
        finally:
            db.session.remove()


def _asked_to_stop(worker: SimpleWorker) -> bool:
    """A stop signal reached RQ's handler. RQ sets ``_stop_requested`` only when the signal
    comes mid-job; an idle worker's loop just ends, with the shutdown date set."""
    return bool(worker._stop_requested or worker._shutdown_requested_date)


def _work_until_stopped(burst: bool) -> None:
    """RQ's work loop, started again whenever it quits on its own: RQ ends it on a Redis
    error outside its dequeue (a timeout, a refused connection mid-job), and the worker must
    outlive a Redis outage (SPEC §11). It ends on SIGTERM/SIGINT or, with ``burst``, when
    the queues are empty."""
    while True:
        high, sends = jobs.priority_queue(), jobs.queue()
        # No fork per job: a forked horse starts cold (new database and HTTP connections,
        # statements compiled again) and sent 6x fewer notices in scripts/bench/notify.py.
        # Jobs are short and idempotent; run more workers for more throughput.
        worker = SessionPerJobWorker([high, sends], connection=sends.connection)
        try:
            worker.work(with_scheduler=True, burst=burst)
        except REDIS_FAILURES as error:  # e.g. its teardown could not reach Redis either
            log.warning("worker: RQ's loop ended on a Redis failure: %s", error)
        if burst or _asked_to_stop(worker):
            return
        log.warning("worker: RQ's loop ended by itself; working again in a second")
        try:
            time.sleep(1)
        except StopRequested:  # RQ's signal handler: asked to stop while waiting
            return


def register(app: Flask) -> None:
    @app.cli.command("mark-no-shows")
    def mark_no_shows() -> None:
        """Mark confirmed residents who never checked in to ended activities as no-shows."""
        marked = sweep_no_shows()
        db.session.commit()
        click.echo(f"marked {marked} no-show(s)")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
    def worker(burst: bool) -> None:
        """Run an RQ worker with RQ's scheduler (sends, retries, reminders) and the clock
        that enqueues the periodic jobs of ``backend/schedule.py``."""
        clock = schedule.Clock(current_app._get_current_object())
        if burst:
            schedule.book_due()  # one look, so a burst run does the periodic work once
        else:
            clock.start()
        try:
            _work_until_stopped(burst)
        finally:
            clock.stop()

    @app.cli.command("check-ledger")
    @click.option("--community", "community_ids", type=int, multiple=True,
                  help="Only this community (repeatable); every community by default.")
    def check_ledger(community_ids: tuple[int, ...]) -> None:
        """Run the reconciliation report's ledger checks (SPEC §6) on every community: after
        a restore, an upgrade or on suspicion. Exits 1 if any check fails."""
        ids = community_ids or tuple(db.session.scalars(
            select(Community.id).order_by(Community.id)))
        failed = 0
        for community_id in ids:
            for check in reconciliation.ledger_checks(community_id):
                failed += not check.ok
                mark = "ok  " if check.ok else "FAIL"
                click.echo(f"{mark} community {community_id} {check.name}: {check.detail}")
        db.session.rollback()
        click.echo(f"{len(ids)} communities checked, {failed} check(s) failed")
        if failed:
            raise SystemExit(1)

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Load the demo community, people and activities (idempotent)."""
        click.echo(seed())
