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

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Load the demo community, people and activities (idempotent)."""
        from backend.demo import seed

        click.echo(seed())
