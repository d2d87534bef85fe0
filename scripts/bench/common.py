"""Shared pieces of the benchmarks: gunicorn processes, a threaded load client, the table.

Every benchmark runs its target and its baseline under the same server settings and the
same client, in the same run, so that the figures read as a ratio (SPEC §10).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from scripts.services import free_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 8

Call = Callable[[requests.Session], requests.Response]


def server_settings() -> str:
    return f"gunicorn -w {GUNICORN_WORKERS} gthread x{GUNICORN_THREADS}"


class Gunicorn:
    """``gunicorn`` serving ``app_spec`` on a free loopback port, stopped by PID."""

    def __init__(self, app_spec: str, env: dict[str, str], ready_path: str = "/healthz"):
        self.app_spec = app_spec
        self.env = {**os.environ, **env}
        self.ready_path = ready_path
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Gunicorn:
        command = [sys.executable, "-m", "gunicorn", "-w", str(GUNICORN_WORKERS),
                   "-k", "gthread", "--threads", str(GUNICORN_THREADS),
                   "--backlog", "4096", "--log-level", "warning",
                   "-b", f"127.0.0.1:{self.port}", self.app_spec]
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn for {self.app_spec} exited early")
            try:
                requests.get(self.url + self.ready_path, timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn for {self.app_spec} did not answer in {timeout}s")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class LoadResult:
    name: str
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    bodies: list[dict] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def row(self) -> str:
        return (f"{self.name:<18} {self.throughput:>8.0f} {self.percentile(50):>8.1f} "
                f"{self.percentile(99):>8.1f} {max(self.latencies_ms, default=0):>8.1f} "
                f"{self.server_errors:>5} {sum(self.errors.values()):>7}")


TABLE_HEADER = (f"{'':<18} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
                f"{'5xx':>5} {'errors':>7}")


def run_load(name: str, calls: Sequence[Call], concurrency: int,
             keep_bodies: bool = False, timeout_s: float = 300) -> LoadResult:
    """Send ``calls`` from ``concurrency`` client threads (one keep-alive session each),
    all released together; record each call's latency, status and (optionally) body."""
    result = LoadResult(name)
    lock = threading.Lock()
    queue = list(reversed(calls))
    barrier = threading.Barrier(concurrency + 1)
    deadline = time.monotonic() + timeout_s

    def worker() -> None:
        session = requests.Session()
        barrier.wait()
        while time.monotonic() < deadline:
            with lock:
                if not queue:
                    break
                call = queue.pop()
            started = time.perf_counter()
            try:
                response = call(session)
            except requests.RequestException as error:
                with lock:
                    result.errors[type(error).__name__] += 1
                continue
            latency = (time.perf_counter() - started) * 1000
            body = _json(response) if keep_bodies else None
            with lock:
                result.latencies_ms.append(latency)
                result.statuses[response.status_code] += 1
                if body is not None:
                    result.bodies.append(body)
        session.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    result.elapsed_s = time.perf_counter() - started
    return result


def _json(response: requests.Response) -> dict:
    try:
        return response.json()
    except ValueError:
        return {"_raw": response.text[:200]}


def ratio(target: LoadResult, baseline: LoadResult) -> str:
    if not baseline.throughput:
        return "n/a"
    return f"{target.throughput / baseline.throughput:.2f}"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
