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
    @click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
    def worker(burst: bool) -> None:
        """Run an RQ worker with RQ's scheduler (sends, retries, reminders, ticks)."""
        import os

        from rq import Worker

        from backend.extensions import db
        from backend.notify.queue import queue
        from backend.notify.tasks import maintenance_tick

        def forget_parent_connections() -> None:
            # Work horses are forked: never share the parent's database sockets.
            for engine in db.engines.values():
                engine.dispose(close=False)

        os.register_at_fork(after_in_child=forget_parent_connections)
        work_queue = queue()
        work_queue.enqueue(maintenance_tick, result_ttl=0)
        Worker([work_queue], connection=work_queue.connection).work(
            with_scheduler=True, burst=burst)

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Load the demo community, people and activities (idempotent)."""
        from backend.demo import seed

        click.echo(seed())
