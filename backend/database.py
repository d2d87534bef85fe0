"""Engine set-up that makes SQLite and PostgreSQL keep the same transactional promises."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InvalidRequestError
from sqlalchemy.orm import Session, scoped_session

log = logging.getLogger(__name__)


def configure_engine_options(app: Flask) -> None:
    uri: str = app.config["SQLALCHEMY_DATABASE_URI"]
    options: dict[str, Any] = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("sqlite"):
        app.config["SQLALCHEMY_DATABASE_URI"] = _absolute_sqlite_uri(uri)
        # Writers wait for each other instead of failing with "database is locked".
        options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    else:
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


def install_engine_hooks(engines: dict[Any, Engine], ping_after_idle_s: float) -> None:
    for engine in engines.values():
        if engine.dialect.name == "sqlite":
            _serialise_sqlite_writers(engine)
        else:
            _ping_idle_connections(engine, ping_after_idle_s)


def _ping_idle_connections(engine: Engine, idle_s: float) -> None:
    """Check a pooled connection before use only if it sat idle for ``idle_s`` or more.

    ``pool_pre_ping`` pings on every checkout: a round trip per request, 3–12 % of a scan's
    worker CPU in side-by-side runs of ``scripts/bench/scans.py``. A connection returned
    moments ago is alive unless the server went away in between; one idle for longer is
    where a database restart or a dropped idle TCP connection shows, so those are pinged
    (SQLAlchemy's pessimistic recipe: raising DisconnectionError makes the pool connect
    afresh). A connection that dies while busy is caught by SQLAlchemy's disconnect
    handling: that request answers 503 and the pool replaces every connection older than
    the failure.
    """

    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection, record):
        record.info["linli_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.get("linli_idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_s:
            return  # fresh from connect, or in use moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError(f"idle connection failed its ping: {error}") from error


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


def release_session_quietly(app: Flask, session: scoped_session[Session]) -> None:
    """End each app context's session before Flask-SQLAlchemy's own teardown, which would
    let a failing ROLLBACK escape the WSGI app: when PostgreSQL restarts mid-request, the
    answer is already made, and gunicorn would replace it with its own HTML 500. A session
    whose connection is dead is invalidated instead (no ROLLBACK sent; the pool replaces it)."""

    @app.teardown_appcontext
    def _release(_error: BaseException | None) -> None:
        try:
            session.remove()
        except DBAPIError as error:
            log.warning("database: dropping a session whose connection failed: %s", error)
            session.registry().invalidate()
            session.registry.clear()


def discard_transaction(session: Session | scoped_session[Session]) -> None:
    """Roll ``session`` back whatever a failure left it in. A COMMIT the server dropped
    half-way (PostgreSQL restarting) leaves the transaction marked committed, where
    ``rollback()`` itself raises and would hide the real error behind a 500; closing the
    session discards the transaction all the same and gives back its connection (which the
    pool then replaces)."""
    try:
        session.rollback()
    except (InvalidRequestError, DBAPIError):
        session.close()
