"""Reports read from a streaming replica when one is configured (issue #19).

``@report_reads`` on a report's use case runs its queries in one read-only REPEATABLE READ
transaction on the replica (``LINLI_DATABASE_REPLICA_URL``): the report is one consistent
snapshot and nothing it does can write there. Before the snapshot is used its lag is
measured; an unreachable replica, one that is not in recovery, or one that lags more than
``LINLI_REPLICA_MAX_LAG_S`` is passed over and the report reads the primary as it always
did, so a clerk's report still answers (and says so). Which database answered is recorded
on ``g`` and sent as ``X-Linli-Read-From`` / ``X-Linli-Replica-Lag`` /
``X-Linli-Replica-Fallback`` headers, and a JSON report also carries it as ``served_by``.
Without a replica setting, or inside a unit of work that writes, nothing changes.

The snapshot is a session of its own that stands in for ``db.session`` only while the
report's code runs (``_Snapshot.active``), so the request's hooks, audit rows and
anything else outside the report keep using the primary's session.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from flask import Flask, Response, current_app, g, has_app_context
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from backend import database
from backend.common.transactions import in_unit_of_work
from backend.extensions import db

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger(__name__)

EXTENSION = "linli_replica"
_SERVED_BY = "linli_served_by"
_OPEN = "linli_open_snapshots"
_ACTIVE = "linli_active_snapshot"

# Which LSNs the replica has replayed and the commit time of the last replayed transaction.
_REPLICA_STATE = text(
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn(),"
    " extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())")


# The headers of a report's answer, as the OpenAPI description shows them (``headers=`` of
# ``blp.response``); sent only when a replica is configured.
REPORT_HEADERS: dict[str, dict[str, Any]] = {
    "X-Linli-Read-From": {"description": "which database answered: replica or primary",
                          "schema": {"type": "string", "enum": ["replica", "primary"]}},
    "X-Linli-Replica-Lag": {"description": "the replica's lag in seconds, when known",
                            "schema": {"type": "string"}},
    "X-Linli-Replica-Fallback": {"description": "why the primary answered: "
                                 "replica_unreachable, replica_lagging, not_a_replica",
                                 "schema": {"type": "string"}},
}


@dataclass(frozen=True)
class ServedBy:
    """Which database answered a report, its lag in seconds, and why not the replica."""

    database: str  # "replica" or "primary"
    lag_s: float | None
    fallback: str | None = None  # "replica_unreachable", "replica_lagging", "not_a_replica"

    def as_dict(self) -> dict[str, Any]:
        return {"database": self.database, "lag_s": self.lag_s, "fallback": self.fallback}

    def headers(self) -> dict[str, str]:
        headers = {"X-Linli-Read-From": self.database}
        if self.lag_s is not None:
            headers["X-Linli-Replica-Lag"] = f"{self.lag_s:.3f}"
        if self.fallback:
            headers["X-Linli-Replica-Fallback"] = self.fallback
        return headers


def init_app(app: Flask) -> None:
    """Make the replica's engine (same pool options and hooks as the primary's) and the
    hooks that add the headers and close a snapshot a request left open."""
    url = app.config.get("SQLALCHEMY_REPLICA_URI")
    if not url:
        return
    options: dict[str, Any] = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
    connect_args = dict(options.get("connect_args") or {})
    # A replica that does not answer must not hold a report up longer than this.
    connect_args.setdefault("connect_timeout", app.config["REPLICA_CONNECT_TIMEOUT_S"])
    options["connect_args"] = connect_args
    engine = create_engine(url, **options)
    database.install_engine_hooks({"replica": engine}, app.config["DATABASE_PING_AFTER_IDLE_S"])
    app.extensions[EXTENSION] = engine
    app.after_request(_add_headers)
    app.teardown_appcontext(_close_open_snapshots)


def replica_engine() -> Engine | None:
    return current_app.extensions.get(EXTENSION) if has_app_context() else None


def served_by() -> ServedBy | None:
    """What answered this request's report (``None``: no replica configured or no report)."""
    return g.get(_SERVED_BY) if has_app_context() else None


def report_reads(func: Callable[P, R]) -> Callable[P, R]:
    """Run the report ``func`` on the replica's snapshot (see the module's docstring).

    A dict result gets ``served_by``; an iterator result (a streamed export) keeps the
    snapshot open until it is exhausted or closed, and reads through it on every step.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        snapshot = _open_snapshot()
        if snapshot is None:  # the primary answers, as without a replica
            return _with_served_by(func(*args, **kwargs))
        try:
            with snapshot.active():
                result = func(*args, **kwargs)
        except BaseException:
            snapshot.close()
            raise
        if isinstance(result, Iterator):
            # A streamed response outlives the request's teardown (Flask pops the contexts
            # before streaming and pushes them again): the stream closes its snapshot.
            snapshot.forget()
            return _streamed(snapshot, result)  # type: ignore[return-value]
        snapshot.close()
        return _with_served_by(result)

    return wrapper


def _with_served_by(result: R) -> R:
    served = served_by()
    if isinstance(result, dict) and served is not None:
        return {**result, "served_by": served.as_dict()}  # type: ignore[return-value]
    return result


def _streamed(snapshot: _Snapshot, rows: Iterator[Any]) -> Iterator[Any]:
    try:
        while True:
            with snapshot.active():
                try:
                    row = next(rows)
                except StopIteration:
                    return
            yield row
    finally:
        snapshot.close()


class _Snapshot:
    """A replica connection in a read-only REPEATABLE READ transaction, and its session."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.session = Session(bind=connection, autoflush=False)

    @contextmanager
    def active(self) -> Iterator[Session]:
        """``db.session`` is the snapshot's session while the report's code runs."""
        registry = db.session.registry
        had_session = registry.has()
        previous = registry() if had_session else None
        outer = g.get(_ACTIVE)
        registry.set(self.session)
        g.setdefault(_ACTIVE, self)
        try:
            yield self.session
        finally:
            if outer is None:
                g.pop(_ACTIVE, None)
            if had_session:
                registry.set(previous)
            else:
                registry.clear()

    def close(self) -> None:
        if self.connection.closed:
            return
        # close() without rollback(): the report's objects stay readable (not expired).
        self.session.close()
        try:
            self.connection.rollback()
            self.connection.close()
        except DBAPIError:
            self.connection.invalidate()
        self.forget()

    def forget(self) -> None:
        """No longer closed by the request's teardown."""
        opened = g.get(_OPEN)
        if opened and self in opened:
            opened.remove(self)


def _open_snapshot() -> _Snapshot | None:
    """The replica's snapshot for a report, or ``None`` to read the primary as usual."""
    engine = replica_engine()
    if engine is None or in_unit_of_work() or g.get(_ACTIVE) is not None:
        return None  # no replica; a write that must see its own rows; a report in a report
    primary_lsn = _primary_lsn()  # first: a replica that has replayed this far holds it all
    connection = None
    try:
        connection = engine.connect()
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        # The first query of the transaction: the report's snapshot is taken here.
        state = _replica_state(connection, primary_lsn)
    except DBAPIError as error:
        if connection is not None:
            connection.invalidate()
            connection.close()
        log.warning("replica unreachable, report reads the primary: %s", error.orig)
        _record(ServedBy("primary", None, "replica_unreachable"))
        return None
    if state.fallback is None:
        _record(ServedBy("replica", state.lag_s))
        snapshot = _Snapshot(connection)
        g.setdefault(_OPEN, []).append(snapshot)
        return snapshot
    connection.rollback()
    connection.close()
    _record(ServedBy("primary", state.lag_s, state.fallback))
    return None


def _primary_lsn() -> Any:
    try:
        with db.engine.connect() as primary:
            return primary.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar_one()
    except DBAPIError:
        return None  # the primary is down: a report may still answer from the replica


@dataclass(frozen=True)
class ReplicaState:
    lag_s: float | None
    fallback: str | None  # why a report would not read it: not_a_replica, replica_lagging


def _replica_state(connection: Connection, primary_lsn: Any) -> ReplicaState:
    in_recovery, replay_lsn, since_replay = connection.execute(_REPLICA_STATE).one()
    caught_up = (primary_lsn is not None and replay_lsn is not None
                 and _lsn(replay_lsn) >= _lsn(primary_lsn))
    lag = _lag_s(caught_up, since_replay)
    if not in_recovery:
        return ReplicaState(lag, "not_a_replica")  # promoted or misconfigured: it may have diverged
    if lag is None or lag > float(current_app.config["REPLICA_MAX_LAG_S"]):
        return ReplicaState(lag, "replica_lagging")
    return ReplicaState(lag, None)


def measure() -> ReplicaState:
    """The replica's lag now and whether reports would read it; raises ``DBAPIError``
    when it does not answer. For ``/readyz`` and the lag gauge, outside any report."""
    primary_lsn = _primary_lsn()
    with replica_engine().connect() as connection:  # type: ignore[union-attr]
        return _replica_state(connection, primary_lsn)


def ready_check() -> None:
    """``/readyz``'s replica check (optional: reports fall back to the primary)."""
    state = measure()
    if state.fallback is not None:
        lag = "unknown" if state.lag_s is None else f"{state.lag_s:g} s"
        raise RuntimeError(f"{state.fallback} (lag {lag})")


def lag_gauge() -> dict[tuple[str, ...], float]:
    """``linli_replica_lag_seconds``: no sample when the lag is unknown (a replica that has
    replayed nothing yet); an unreachable replica raises, so the scrape says its source is
    down."""
    lag = measure().lag_s
    return {} if lag is None else {(): lag}


def _lsn(value: Any) -> int:
    """A WAL position ``X/Y`` (two hex halves) as one number."""
    high, low = str(value).split("/")
    return (int(high, 16) << 32) + int(low, 16)


def _lag_s(caught_up: bool, since_replay: Any) -> float | None:
    """Replication lag in seconds: 0 when the replica has replayed the primary's current
    WAL position (an idle primary writes no transactions, so the time since the last
    replayed one says nothing then); otherwise the time since the last replayed commit,
    an upper bound of how stale the replica is; ``None`` when nothing tells."""
    if caught_up:
        return 0.0
    if since_replay is None:
        return None
    return round(max(float(since_replay), 0.0), 3)


def _record(served: ServedBy) -> None:
    g.setdefault(_SERVED_BY, served)  # the first report of a request names the database


def _add_headers(response: Response) -> Response:
    served = served_by()
    if served is not None:
        response.headers.update(served.headers())
    return response


def _close_open_snapshots(_error: BaseException | None) -> None:
    for snapshot in list(g.get(_OPEN) or []):
        snapshot.close()
