"""Processes the tests start, through the one supervisor (``scripts/processes.py``): a real
RQ worker (``flask --app backend worker``) against the test app's database and Redis.

``rq_workers`` is a factory fixture: ``worker = rq_workers()`` starts one; each is stopped at
teardown by its PID (RQ's warm shutdown, then SIGKILL to whatever it left) and the end of its
log is printed, so a failing test shows what the worker did.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from scripts.processes import Process, descendants

WORKER_ARGV = ["-m", "flask", "--app", "backend", "worker"]


def worker_env(app: Flask, redis_url: str, wechat_base: str, **settings: str) -> dict[str, str]:
    """The worker's environment: the test app's database, short intervals, no quiet hours;
    ``settings`` add or override ``LINLI_*`` values (``NOTIFY_SEND_LEASE_S="5"``)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("LINLI_")},
        "LINLI_ENV": "test",
        "LINLI_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "LINLI_REDIS_URL": redis_url,
        "LINLI_WECHAT_API_BASE": wechat_base,
        "LINLI_NOTIFY_RETRY_INTERVALS": "1,1,1",
        "LINLI_NOTIFY_SEND_LEASE_S": "2",
        "LINLI_OUTBOX_DRAIN_INTERVAL_S": "1",
        "LINLI_OUTBOX_SETTLE_S": "0",
        "LINLI_QUIET_HOURS": "off",
        **{f"LINLI_{name}": value for name, value in settings.items()},
    }


class WorkerProcess(Process):
    """One RQ worker process; ``kill(SIGKILL)`` is the machine dying (the worker, RQ's
    scheduler and a work horse mid-job with it), ``kill(SIGTERM)`` RQ's warm shutdown."""

    def __init__(self, env: dict[str, str], log_path: Path,
                 argv: list[str] | None = None) -> None:
        import sys

        super().__init__("rq worker", [sys.executable, *(argv or WORKER_ARGV)], env=env,
                         log_path=log_path, stop_steps=((signal.SIGTERM, 15.0),))

    def kill(self, sig: int = signal.SIGKILL, tree: bool = True) -> None:
        if sig == signal.SIGKILL:
            super().kill(signal.SIGKILL, tree=tree)
        else:
            self.stop([(sig, 15.0)])  # and SIGKILL to whatever is left after 15 s

    @property
    def children(self) -> dict[int, int]:
        """Processes the worker started (RQ's scheduler, a horse), with their start times."""
        return descendants(self.pid) if self.running and self.pid else {}


@pytest.fixture
def rq_workers(app, redis_url, mock_wx, tmp_path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(redis: str = redis_url, argv: list[str] | None = None,
              **settings: str) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started) + 1}.log"
        env = worker_env(app, redis, mock_wx, **settings)
        started.append(WorkerProcess(env, log, argv).start())
        return started[-1]

    yield start
    for worker in started:
        worker.stop()
        lines = [line for line in worker.output().splitlines()
                 if "sweep-" not in line]
        print(f"--- {worker.name} ({worker.log_path}) ---", *lines[-60:], sep="\n")
