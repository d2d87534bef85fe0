"""The baseline of the sign-up benchmark: a bare Flask endpoint doing one INSERT.

Served by the same gunicorn settings against the same PostgreSQL as the real app, with
the same connection-pool sizes, so the ratio shows what Linli's sign-up adds.
"""

from __future__ import annotations

import os

from flask import Flask
from sqlalchemy import create_engine, text


def create_app() -> Flask:
    app = Flask(__name__)
    engine = create_engine(os.environ["BENCH_DATABASE_URL"], pool_size=10, max_overflow=20,
                           pool_pre_ping=True)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.post("/insert")
    def insert():
        with engine.begin() as connection:
            row_id = connection.execute(
                text("INSERT INTO bench_inserts (note) VALUES ('signup') RETURNING id")).scalar()
        return {"id": row_id}, 201

    @app.get("/hello")
    def hello():
        return {"hello": "world"}

    return app


def create_table(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(
            "CREATE TABLE IF NOT EXISTS bench_inserts (id serial PRIMARY KEY, note text,"
            " created_at timestamptz DEFAULT now())"))
    engine.dispose()
