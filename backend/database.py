"""Engine set-up that makes SQLite and PostgreSQL keep the same transactional promises."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine


def configure_engine_options(app: Flask) -> None:
    uri: str = app.config["SQLALCHEMY_DATABASE_URI"]
    options: dict[str, Any] = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("sqlite"):
        app.config["SQLALCHEMY_DATABASE_URI"] = _absolute_sqlite_uri(uri)
        # Writers wait for each other instead of failing with "database is locked".
        options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    else:
        options.setdefault("pool_pre_ping", True)
        options.setdefault("pool_size", 10)
        options.setdefault("max_overflow", 20)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _absolute_sqlite_uri(uri: str) -> str:
    """A relative SQLite path means "from where you run the command", as the README says.

    (Flask-SQLAlchemy would otherwise put it under the instance folder.)
    """
    prefix = "sqlite:///"
    path = uri.removeprefix(prefix)
    if not uri.startswith(prefix) or not path or path.startswith(":memory:"):
        return uri
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return prefix + path


def install_engine_hooks(engines: dict[Any, Engine]) -> None:
    for engine in engines.values():
        if engine.dialect.name == "sqlite":
            _serialise_sqlite_writers(engine)


def _serialise_sqlite_writers(engine: Engine) -> None:
    """SQLite has no row locks: every transaction takes the write lock up front.

    pysqlite's own transaction handling defers BEGIN; we take control (the recipe from
    SQLAlchemy's SQLite dialect docs) and start each transaction with BEGIN IMMEDIATE so
    that read-check-write sequences such as "seats left?" cannot interleave.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
