"""Watching Linli run (issue #19): request ids, one log line per request, Prometheus
metrics and the readiness probe. Bottom layer: it imports no domain; what the domains
measure (outbox rows, queues, the schedule) is handed in by the wiring through
``register_gauge`` and ``register_ready_check``, as reconciliation's backing checks are.

- **Request id**: ``X-Request-Id`` when the caller sent a short, safe one, else a new one;
  echoed in the response, put on every log record, and carried into the RQ jobs enqueued
  during the request (``job.meta["request_id"]``, see ``backend/jobs.py``), so the
  worker's lines for that job carry the same id.
- **Metrics**: request count and latency per Flask endpoint (bounded: never the raw path)
  live in each process and, under gunicorn, in ``prometheus_client``'s multi-process
  files (``PROMETHEUS_MULTIPROC_DIR``, ``deploy/gunicorn.conf.py``). Gauges read from the
  database or Redis are computed when ``/metrics`` is scraped, once, by the process that
  answers, never kept up to date by every process.
- **/readyz**: a registry of named checks, each one round trip, run side by side under
  one short timeout.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from alembic.script import ScriptDirectory
from flask import Flask, Response, current_app, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from rq import get_current_job
from sqlalchemy import text

from backend.common.connections import redis_connection
from backend.extensions import db
from backend.refusals import FORBIDDEN

REQUEST_ID_HEADER = "X-Request-Id"
# Short and safe to put in a log line or a header: no spaces, quotes or control characters.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_EXTENSION = "linli_observability"
LOOPBACK = frozenset({"127.0.0.1", "::1"})

request_log = logging.getLogger("linli.request")

# Process-local metrics (one set per process; summed across gunicorn workers at scrape time).
REQUESTS = Counter("linli_http_requests", "HTTP requests answered, by Flask endpoint and status",
                   ["method", "endpoint", "status"])
LATENCY = Histogram("linli_http_request_duration_seconds",
                    "Time from the first request hook to the response, by Flask endpoint",
                    ["method", "endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


# --- request id ---------------------------------------------------------------------------


def valid_request_id(value: str | None) -> str | None:
    """``value`` if it is a request id we may repeat in logs and headers, else None."""
    return value if value and _SAFE_REQUEST_ID.fullmatch(value) else None


def current_request_id() -> str | None:
    """The id of the request being answered, or of the RQ job's originating request."""
    if has_request_context():
        return g.get("linli_request_id")
    job = get_current_job()
    if job is not None:
        return job.meta.get("request_id")
    return None


# --- logs ---------------------------------------------------------------------------------


class RequestIdFilter(logging.Filter):
    """Puts ``request_id`` on every record (``-`` when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.request_id = current_request_id() or "-"
        except Exception:  # a log call must never fail because of its context
            record.request_id = "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the request line's ``fields`` become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        payload.update(getattr(record, "fields", {}))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


JsonFormatter.converter = time.gmtime  # timestamps in UTC, as the "Z" says
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (gunicorn and pytest replace it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(log_format: str) -> None:
    """One stderr handler on the root logger, in ``json`` or ``text``; configuring again
    (several apps in one process, the tests) replaces its format, never adds a handler."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter(TEXT_FORMAT))
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


# --- registries the wiring fills ----------------------------------------------------------


@dataclass(frozen=True)
class ScrapeGauge:
    """A gauge computed at scrape time: ``read()`` maps label values to numbers."""

    name: str
    documentation: str
    labels: tuple[str, ...]
    read: Callable[[], Mapping[tuple[str, ...], float]]


@dataclass
class _State:
    user_id: Callable[[], int | None]
    ready_checks: dict[str, Callable[[], None]]
    optional_checks: set[str]
    gauges: list[ScrapeGauge]
    heads: frozenset[str] | None = None


def _state(app: Flask | None = None) -> _State:
    return (app or current_app).extensions[_EXTENSION]


def register_ready_check(app: Flask, name: str, check: Callable[[], None], *,
                         required: bool = True) -> None:
    """``check()`` returns when ``name`` is ready and raises when not (its message shows).
    A check that is not ``required`` names something the node can serve without (the
    replica: reports fall back to the primary): its failure shows as ``degraded`` and the
    probe still answers 200, so a load balancer keeps every node in."""
    state = _state(app)
    state.ready_checks[name] = check
    if required:
        state.optional_checks.discard(name)
    else:
        state.optional_checks.add(name)


def register_gauge(app: Flask, name: str, documentation: str, labels: Iterable[str],
                   read: Callable[[], Mapping[tuple[str, ...], float]]) -> None:
    """A gauge computed when ``/metrics`` is scraped (outbox rows, queue depth, replica
    lag, …). ``read`` runs in the scrape's app context; when it raises, the gauge is left
    out and ``linli_scrape_source_up{source=name}`` says 0."""
    _state(app).gauges.append(ScrapeGauge(name, documentation, tuple(labels), read))


# --- the hooks ----------------------------------------------------------------------------


def init_app(app: Flask, user_id: Callable[[], int | None]) -> None:
    """Request id, timing, the request log line and metrics, ``/readyz`` and ``/metrics``.
    Call before any other request hook, so a request refused by one is still counted."""
    app.extensions[_EXTENSION] = _State(user_id=user_id, ready_checks={}, optional_checks=set(),
                                         gauges=[])
    configure_logging(app.config["LOG_FORMAT"])
    register_ready_check(app, "database", _database_ready)
    register_ready_check(app, "redis", _redis_ready)
    register_ready_check(app, "migrations", _migrations_at_head)
    app.before_request(_start)
    app.after_request(_finish)
    app.add_url_rule("/readyz", "readyz", readyz)
    app.add_url_rule("/metrics", "metrics", metrics)


def _start() -> None:
    g.linli_started = time.perf_counter()
    g.linli_request_id = (valid_request_id(request.headers.get(REQUEST_ID_HEADER))
                          or uuid.uuid4().hex)


def _finish(response: Response) -> Response:
    started = g.get("linli_started")
    if started is None:  # _start never ran (a hook before it answered): nothing to time
        return response
    duration = time.perf_counter() - started
    endpoint = request.endpoint or "unmatched"  # unknown paths share one label
    response.headers[REQUEST_ID_HEADER] = g.linli_request_id
    REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
    LATENCY.labels(request.method, endpoint).observe(duration)
    try:
        user = _state().user_id()
    except Exception:  # e.g. a revoked token: the line says "unknown", the answer stands
        user = None
    fields = {"method": request.method, "endpoint": endpoint, "path": request.path,
              "status": response.status_code, "duration_ms": round(duration * 1000, 2),
              "user_id": user, "remote_addr": request.remote_addr}
    request_log.info("%s %s %s %.1fms", request.method, request.path, response.status_code,
                     duration * 1000, extra={"fields": fields})
    return response


# --- /readyz ------------------------------------------------------------------------------


def _database_ready() -> None:
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _redis_ready() -> None:
    redis_connection().ping()  # its timeouts are 1 s, no retries (common/connections.py)


def _migrations_at_head() -> None:
    state = _state()
    if state.heads is None:
        directory = current_app.extensions["migrate"].directory
        state.heads = frozenset(ScriptDirectory(directory).get_heads())
    with db.engine.connect() as connection:
        applied = frozenset(connection.execute(
            text("SELECT version_num FROM alembic_version")).scalars())
    if applied != state.heads:
        raise RuntimeError(f"database at {', '.join(sorted(applied)) or 'nothing'}, "
                           f"code at {', '.join(sorted(state.heads))}")


def _timed(app: Flask, check: Callable[[], None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with app.app_context():
            check()
    except Exception as error:  # reported in the body; the probe itself answers
        result: dict[str, Any] = {"ok": False,
                                  "error": f"{type(error).__name__}: {str(error)[:200]}"}
    else:
        result = {"ok": True}
    result["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def readiness() -> tuple[str, dict[str, dict[str, Any]]]:
    """Every registered check, side by side, each timed, and the verdict: ``ready``,
    ``degraded`` (only checks that are not required failed) or ``unavailable``. A check still
    running after ``LINLI_READYZ_TIMEOUT_S`` (a database that accepts but never answers)
    fails as timed out, and the probe answers anyway; its thread ends with its socket."""
    app = current_app._get_current_object()
    checks = _state().ready_checks
    timeout = app.config["READYZ_TIMEOUT_S"]
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="linli-readyz")
    try:
        futures = {name: pool.submit(_timed, app, check) for name, check in checks.items()}
        wait(futures.values(), timeout=timeout)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    results = {name: future.result() if future.done() else
               {"ok": False, "error": f"timed out after {timeout:g} s",
                "duration_ms": round(timeout * 1000, 2)}
               for name, future in futures.items()}
    failed = {name for name, result in results.items() if not result["ok"]}
    for name in checks:
        if name in _state().optional_checks:
            results[name]["required"] = False
    if failed - _state().optional_checks:
        return "unavailable", results
    return ("degraded" if failed else "ready"), results


def readyz() -> tuple[dict[str, Any], int]:
    """200 when every required check passes (``ready``, or ``degraded`` when an optional
    one failed), 503 with the same body when a required one fails."""
    status, checks = readiness()
    return {"status": status, "checks": checks}, (503 if status == "unavailable" else 200)


# --- /metrics -----------------------------------------------------------------------------


class _ScrapeCollector:
    """Runs the registered gauges' ``read`` once per scrape."""

    def __init__(self, gauges: list[ScrapeGauge]) -> None:
        self.gauges = gauges

    def collect(self) -> Iterable[GaugeMetricFamily]:
        up = GaugeMetricFamily("linli_scrape_source_up",
                               "1 when the scrape-time gauge could be read, 0 when its "
                               "source (database, Redis) failed", labels=["source"])
        for gauge in self.gauges:
            try:
                values = gauge.read()
            except Exception as error:  # the source is down: say so, keep the rest
                logging.getLogger(__name__).warning("metrics: %s not read: %s", gauge.name,
                                                    error)
                up.add_metric([gauge.name], 0)
                continue
            up.add_metric([gauge.name], 1)
            family = GaugeMetricFamily(gauge.name, gauge.documentation,
                                       labels=list(gauge.labels))
            for label_values, value in values.items():
                family.add_metric(list(label_values), float(value))
            yield family
        yield up


def process_metrics() -> bytes:
    """The request metrics: every gunicorn worker's, summed, in multi-process mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _may_scrape() -> bool:
    """With ``LINLI_METRICS_TOKEN``: its bearer token. Without: only a loopback caller that
    no proxy forwarded (behind nginx the peer is loopback for every client)."""
    token = current_app.config["METRICS_TOKEN"]
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                  token.encode())
    return request.remote_addr in LOOPBACK and "X-Forwarded-For" not in request.headers


def metrics() -> Response:
    if not _may_scrape():
        raise FORBIDDEN.saying("监控指标仅对本机或持有监控令牌的请求开放")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ScrapeCollector(_state().gauges))
    try:
        body = process_metrics() + generate_latest(registry)
    finally:
        db.session.remove()  # the gauges' reads end their transaction here
    return Response(body, content_type=CONTENT_TYPE_LATEST)
