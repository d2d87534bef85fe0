"""Baselines for the HTTP benchmarks: bare Flask endpoints with no Linli code in the way.

``POST /insert`` does one INSERT (the sign-up burst's baseline); ``GET /hello`` does nothing
(for the scans benchmark). Served by the same gunicorn settings against the same PostgreSQL
as the real app, with the same pool as ``backend/database.py`` (pool_size 10, max_overflow
20; the app pings only connections idle for 10 s, which a benchmark's never are), so the
ratio shows what Linli's own work costs.

    BENCH_DATABASE_URL=postgresql+psycopg://... gunicorn 'scripts.bench.baseline_app:create_app()'
"""

from __future__ import annotations

import os

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

TABLE = "bench_inserts"
ENGINE_OPTIONS = {"pool_size": 10, "max_overflow": 20}


def create_app() -> Flask:
    app = Flask(__name__)
    # One engine per worker process: gunicorn calls create_app() after forking.
    engine = create_engine(os.environ["BENCH_DATABASE_URL"], **ENGINE_OPTIONS)
    insert = text(f"INSERT INTO {TABLE} (note) VALUES (:note) RETURNING id")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    @app.post("/insert")
    def insert_one() -> tuple[dict[str, int], int]:
        with engine.begin() as connection:
            row_id = connection.execute(insert, {"note": "signup"}).scalar_one()
        return {"id": row_id}, 201

    return app


def create_table(engine: Engine) -> None:
    """Create (or empty) the baseline's table; done once, before gunicorn starts."""
    with engine.begin() as connection:
        connection.execute(text(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, note text NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now())"))
        connection.execute(text(f"TRUNCATE {TABLE} RESTART IDENTITY"))


def count_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {TABLE}")).scalar_one())
