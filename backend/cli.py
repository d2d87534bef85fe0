"""``flask --app backend <command>``: operational commands."""

from __future__ import annotations

import click
from flask import Flask


def register(app: Flask) -> None:
    @app.cli.command("mark-no-shows")
    def mark_no_shows() -> None:
        """Mark confirmed residents who never checked in to ended activities as no-shows."""
        from backend.activities.noshows import sweep_no_shows
        from backend.extensions import db

        marked = sweep_no_shows()
        db.session.commit()
        click.echo(f"marked {marked} no-show(s)")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
    def worker(burst: bool) -> None:
        """Run an RQ worker with RQ's scheduler (sends, retries, reminders, ticks)."""
        from rq import SimpleWorker

        from backend.notify.queue import priority_queue, queue
        from backend.notify.tasks import maintenance_tick

        high, sends = priority_queue(), queue()
        high.enqueue(maintenance_tick, result_ttl=0)
        # No fork per job: a forked horse starts cold (new database and HTTP connections,
        # statements compiled again) and sent 6x fewer notices in scripts/bench/notify.py.
        # Jobs are short and idempotent; run more workers for more throughput.
        SimpleWorker([high, sends], connection=sends.connection).work(
            with_scheduler=True, burst=burst)

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Load the demo community, people and activities (idempotent)."""
        from backend.demo import seed

        click.echo(seed())
