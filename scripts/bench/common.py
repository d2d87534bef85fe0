"""Shared pieces of the benchmarks (SPEC §10): gunicorn processes, a threaded HTTP load
client with latency percentiles, and the result table.

Every benchmark runs its target and its baseline under the same server settings, against
the same database and with the same client in the same run, so its figures read as a ratio.
Servers only ever listen on 127.0.0.1 and are stopped by the PID we spawned.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from scripts import processes
from scripts.processes import Process, free_port, http_ok, port_open
from scripts.services import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"

# --- gunicorn ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GunicornSettings:
    """One set of server settings, used verbatim for a benchmark and its baseline."""

    workers: int = 2
    worker_class: str = "gthread"
    threads: int = 8
    timeout_s: int = 30
    # Room for every client connection to queue while the workers are busy.
    backlog: int = 2048

    def argv(self) -> list[str]:
        args = ["--workers", str(self.workers), "--worker-class", self.worker_class,
                "--timeout", str(self.timeout_s), "--graceful-timeout", "10",
                "--backlog", str(self.backlog)]
        if self.worker_class == "gthread":
            args += ["--threads", str(self.threads)]
        return args

    def describe(self) -> str:
        threads = f" x{self.threads}" if self.worker_class == "gthread" else ""
        return f"gunicorn -w {self.workers} {self.worker_class}{threads}"


def add_server_arguments(parser: argparse.ArgumentParser, concurrency: int = 64,
                         worker_class: str = "gthread") -> None:
    """The options every HTTP benchmark shares (server settings and client concurrency)."""
    parser.add_argument("--concurrency", type=int, default=concurrency,
                        help="client threads, each with one keep-alive connection")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", default=worker_class, choices=("gthread", "sync"))
    parser.add_argument("--threads", type=int, default=8, help="threads per gthread worker")


def settings_from_args(args: argparse.Namespace) -> GunicornSettings:
    return GunicornSettings(workers=args.workers, worker_class=args.worker_class,
                            threads=args.threads)


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment minus any ``LINLI_*``/``PG*`` leftovers, plus ``extra``.

    A developer's shell may point LINLI_DATABASE_URL at a real database; a benchmark must
    only ever touch the throw-away servers it started.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LINLI_", "PG", "BENCH_"))}
    env.update(extra)
    return env


def production_env(database_url: str, redis_url: str, **settings: str) -> dict[str, str]:
    """A served app's environment as a deployment would set it: production mode, fresh
    secrets, the throw-away servers; ``settings`` add or override ``LINLI_*`` values."""
    signing_seed = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return clean_env({
        "LINLI_ENV": "production",
        "LINLI_DATABASE_URL": database_url,
        "LINLI_REDIS_URL": redis_url,
        "LINLI_SECRET_KEY": secrets.token_urlsafe(32),
        "LINLI_CHECKIN_SIGNING_KEY": signing_seed,
        "LINLI_WECHAT_APPID": "wx_bench",
        "LINLI_WECHAT_SECRET": secrets.token_urlsafe(16),
        # Nothing listens there unless a benchmark starts the mock and says so.
        "LINLI_WECHAT_API_BASE": f"http://127.0.0.1:{free_port()}",
        **{f"LINLI_{name}": value for name, value in settings.items()},
    })


def postgres_version(postgres: PostgresServer, database: str) -> str:
    with postgres.connect(database) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]


class Gunicorn:
    """``gunicorn APP_SPEC`` on a free loopback port; a context manager that always stops it.

    Output goes to ``log_path`` so that error lines can be shown when a run goes wrong. The
    process is a :class:`scripts.processes.Process`: its own session (Ctrl-C in the terminal
    reaches only us, and we stop gunicorn in order), SIGTERM for a graceful stop, then
    SIGKILL to the master and every worker left.
    """

    def __init__(self, app_spec: str, env: Mapping[str, str], settings: GunicornSettings,
                 log_path: Path, ready_path: str = "/healthz", start_timeout_s: float = 60):
        self.app_spec = app_spec
        self.env = dict(env)
        self.settings = settings
        self.log_path = log_path
        self.ready_path = ready_path
        self.start_timeout_s = start_timeout_s
        self.port = free_port()
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return self.process.proc if self.process is not None else None

    @property
    def pid(self) -> int | None:
        """The master's; its workers are its children."""
        return self.process.pid if self.process is not None else None

    def start(self) -> Self:
        command = [sys.executable, "-m", "gunicorn", *self.settings.argv(),
                   "--bind", f"{HOST}:{self.port}", "--log-level", "warning",
                   "--error-logfile", "-", self.app_spec]
        self.process = Process("gunicorn", command, env=self.env, log_path=self.log_path,
                               ready=http_ok(self.url + self.ready_path),
                               start_timeout_s=self.start_timeout_s)
        self.process.start()
        return self

    def stop(self, grace_s: float = 15) -> None:
        """SIGTERM (graceful), then SIGKILL to the master and its workers. Idempotent."""
        process, self.process = self.process, None
        if process is not None:
            process.stop([(signal.SIGTERM, grace_s)])

    def log_excerpt(self, max_lines: int = 20) -> list[str]:
        return log_excerpt(self.log_path, max_lines)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def wait_for_port(port: int, timeout_s: float, host: str = HOST) -> None:
    try:
        processes.wait_until(port_open(port, host), timeout_s)
    except TimeoutError:
        raise TimeoutError(f"nothing listened on {host}:{port} within {timeout_s:.0f}s") from None


def wait_for_http(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until ``url`` answers 200 (and fail fast if ``proc`` dies meanwhile)."""
    probe = http_ok(url)

    def answered() -> bool:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with code {proc.returncode}")
        return probe()

    try:
        processes.wait_until(answered, timeout_s, interval_s=0.2)
    except TimeoutError:
        raise TimeoutError(f"{url} did not answer 200 within {timeout_s:.0f}s "
                           f"({probe.last or 'no answer'})") from None


# Gunicorn's own warnings/errors, Flask's "ERROR in app" and the last line of each traceback.
_LOG_PROBLEM = re.compile(r"\[(WARNING|ERROR|CRITICAL)\]|ERROR in |WORKER TIMEOUT|"
                          r"^[\w.]+(Error|Exception|Timeout|Exit)\b(:|$)")
_LOG_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")  # timestamps and pids, which defeat dedup


def log_excerpt(path: Path, max_lines: int = 20) -> list[str]:
    """The distinct problem lines of a server log, with how often each occurred."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    seen: Counter[str] = Counter()
    for line in lines:
        if _LOG_PROBLEM.search(line):
            level = re.search(r"\[(WARNING|ERROR|CRITICAL)\]", line)
            text = _LOG_PREFIX.sub("", line).strip()
            seen[f"[{level.group(1)}] {text}" if level else text] += 1
    return [f"x{n} {text}"[:300] for text, n in list(seen.items())[:max_lines]]


# --- load client -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None

    @classmethod
    def json(cls, method: str, path: str, payload: Any = None,
             headers: Mapping[str, str] | None = None) -> HttpRequest:
        all_headers = dict(headers or {})
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            all_headers["Content-Type"] = "application/json"
        return cls(method, path, all_headers, body)


@dataclass
class LoadResult:
    name: str
    requests: int = 0
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # exceptions, timeouts, not sent
    bodies: list[Any] = field(default_factory=list)  # parsed JSON, when asked to keep them
    # A few distinct non-2xx answers and exceptions, for the report.
    samples: dict[str, int] = field(default_factory=dict)

    @classmethod
    def merge(cls, name: str, results: Sequence[LoadResult]) -> LoadResult:
        """Phases run one after another, reported as one (elapsed times add up)."""
        merged = cls(name, requests=sum(r.requests for r in results),
                     elapsed_s=sum(r.elapsed_s for r in results))
        for result in results:
            merged.latencies_ms += result.latencies_ms
            merged.statuses.update(result.statuses)
            merged.errors.update(result.errors)
        return merged

    @property
    def answered(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        return self.answered / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the answered requests' latencies, in ms."""
        if not self.latencies_ms:
            return math.nan
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    @property
    def max_ms(self) -> float:
        return max(self.latencies_ms, default=math.nan)


def run_load(name: str, base_url: str, requests: Sequence[HttpRequest], concurrency: int, *,
             keep_bodies: bool = False, request_timeout_s: float = 30,
             deadline_s: float = 180) -> LoadResult:
    """Send ``requests`` from ``concurrency`` client threads, all released by one barrier.

    Each thread keeps one keep-alive connection (http.client: far less client CPU per
    request than requests, which matters when client and server share a small machine)
    and takes the next request from a shared queue as soon as its previous one is answered,
    so at most ``concurrency`` requests are in flight. Latency is time.perf_counter around
    one request/response. Requests not sent before ``deadline_s`` count as errors.
    """
    parsed = http.client.urlsplit(base_url)
    host, port = parsed.hostname or HOST, parsed.port or 80
    result = LoadResult(name, requests=len(requests))
    lock = threading.Lock()
    pending = list(reversed(requests))
    threads_n = max(1, min(concurrency, len(requests)))
    barrier = threading.Barrier(threads_n + 1, timeout=60)
    deadline = time.monotonic() + deadline_s

    def record_sample(key: str) -> None:
        if key in result.samples or len(result.samples) < 8:
            result.samples[key] = result.samples.get(key, 0) + 1

    def worker() -> None:
        client = KeepAliveClient(host, port, request_timeout_s)
        try:
            barrier.wait()
            while time.monotonic() < deadline:
                with lock:
                    if not pending:
                        return
                    request = pending.pop()
                started = time.perf_counter()
                try:
                    status, body = client.send(request)
                except (OSError, http.client.HTTPException) as error:
                    with lock:
                        kind = "timeout" if isinstance(error, TimeoutError) else \
                            type(error).__name__
                        result.errors[kind] += 1
                        record_sample(f"{kind}: {error}"[:200])
                    continue
                latency_ms = (time.perf_counter() - started) * 1000
                parsed_body = parse_json(body) if keep_bodies or status >= 300 else None
                with lock:
                    result.latencies_ms.append(latency_ms)
                    result.statuses[status] += 1
                    if keep_bodies:
                        result.bodies.append(parsed_body)
                    if status >= 300:
                        record_sample(f"{status} {json.dumps(parsed_body, ensure_ascii=False)}"
                                      [:300])
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True, name=f"load-{i}")
               for i in range(threads_n)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        # Bounded: a request can take at most request_timeout_s after the deadline.
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + request_timeout_s + 5)
    result.elapsed_s = time.perf_counter() - started
    with lock:
        if pending:
            result.errors["not sent"] += len(pending)
            pending.clear()
        hung = sum(thread.is_alive() for thread in threads)
        if hung:
            result.errors["client hung"] += hung
    return result


class KeepAliveClient:
    """One persistent HTTP/1.1 connection that reconnects when the server closes it."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.conn: http.client.HTTPConnection | None = None
        self.last_headers: dict[str, str] = {}  # the last answer's, names in lower case

    def send(self, request: HttpRequest) -> tuple[int, bytes]:
        reused = self.conn is not None
        try:
            return self._send_once(request)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # The server dropped an idle keep-alive connection before reading the request
            # (what browsers and urllib3 retry too); a fresh connection's failure is real.
            if not reused:
                raise
            return self._send_once(request)

    def _send_once(self, request: HttpRequest) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            self.conn.request(request.method, request.path, body=request.body,
                              headers=dict(request.headers))
            response = self.conn.getresponse()
            body = response.read()
            self.last_headers = {name.lower(): value for name, value in response.getheaders()}
        except BaseException:
            self.close()
            raise
        if response.will_close:  # sync workers answer "Connection: close"
            self.close()
        return response.status, body

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return {"_raw": body[:200].decode(errors="replace")}


# --- CPU per request -----------------------------------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_tree_cpu_s(root_pid: int) -> float:
    """User + system CPU seconds used so far by a process and its live descendants (/proc)."""
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        used[pid] = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    tree = {root_pid}
    while True:
        grown = tree | {pid for pid, parent in parents.items() if parent in tree}
        if grown == tree:
            return sum(used.get(pid, 0.0) for pid in tree)
        tree = grown


class CpuMeter:
    """CPU time per process group over a stretch of a run: each server's process tree, and
    this process (the load client's threads). Throughput on a shared machine drifts with
    its neighbours; CPU per request drifts far less, so it is reported beside it."""

    def __init__(self, servers: Mapping[str, int | None]) -> None:
        self.servers = {name: pid for name, pid in servers.items() if pid is not None}
        self.started = self._read()

    def _read(self) -> dict[str, float]:
        return {**{name: process_tree_cpu_s(pid) for name, pid in self.servers.items()},
                "client": time.process_time()}

    def per_request_ms(self, requests: int) -> dict[str, float]:
        now = self._read()
        return {name: (now[name] - self.started[name]) / max(requests, 1) * 1000
                for name in now}


def format_cpu_table(rows: Mapping[str, Mapping[str, float]]) -> str:
    """CPU ms per request by process group, one row per measured load, plus the total."""
    groups = list(dict.fromkeys(name for row in rows.values() for name in row))
    header = f"{'CPU ms per request':<{_NAME_WIDTH}}" + "".join(
        f"{name:>11}" for name in [*groups, "total"])
    lines = [header]
    for label, row in rows.items():
        cells = [f"{row[name]:>11.2f}" if name in row else f"{'-':>11}" for name in groups]
        lines.append(f"{label:<{_NAME_WIDTH}}" + "".join(cells) + f"{sum(row.values()):>11.2f}")
    return "\n".join(lines)


# --- report ------------------------------------------------------------------------------------

_NAME_WIDTH = 18
TABLE_HEADER = (f"{'':<{_NAME_WIDTH}}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
                f"{'5xx':>6}{'errors':>8}")


def table_row(result: LoadResult) -> str:
    return (f"{result.name:<{_NAME_WIDTH}}{result.throughput:>9.0f}{result.percentile(50):>9.1f}"
            f"{result.percentile(99):>9.1f}{result.max_ms:>9.1f}{result.server_errors:>6}"
            f"{result.error_count:>8}")


def format_table(results: Sequence[LoadResult]) -> str:
    return "\n".join([TABLE_HEADER, *(table_row(r) for r in results)])


def ratio(target: LoadResult, baseline: LoadResult) -> str:
    if not baseline.throughput:
        return "n/a"
    return f"{target.throughput / baseline.throughput:.2f}"


def format_checks(checks: Sequence[tuple[str, bool]]) -> str:
    return "checks: " + ", ".join(f"{label} {'PASS' if ok else 'FAIL'}" for label, ok in checks)


def format_problems(result: LoadResult, server: Gunicorn | None = None) -> list[str]:
    """Status counts, sample error answers/exceptions and server log lines, if any."""
    lines: list[str] = []
    if any(status >= 300 for status in result.statuses) or result.errors:
        statuses = ", ".join(f"{s}={n}" for s, n in sorted(result.statuses.items()))
        errors = ", ".join(f"{k}={n}" for k, n in sorted(result.errors.items()))
        lines.append(f"{result.name}: statuses {statuses or '-'}; errors {errors or '-'}")
        lines += [f"  x{n} {sample}" for sample, n in result.samples.items()]
    if server is not None:
        excerpt = server.log_excerpt()
        if excerpt:
            lines.append(f"{result.name}: gunicorn log ({server.log_path}):")
            lines += [f"  {line}" for line in excerpt]
    return lines


def host_description() -> str:
    return f"{os.cpu_count()} CPUs shared by client, gunicorn and PostgreSQL"


def run_keeping_logs_on_failure(prefix: str, run: Callable[[Path], bool]) -> int:
    """Run a benchmark in a fresh log folder: exit 0 passed, 1 a check failed, 2 aborted.

    The servers' logs are removed after a clean pass and kept (and named) otherwise.
    """
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    keep_logs = False
    try:
        passed = run(workdir)
        keep_logs = not passed
    except Exception:
        keep_logs = True
        traceback.print_exc()
        print(f"benchmark aborted; logs kept in {workdir}", file=sys.stderr)
        return 2
    finally:
        if not keep_logs:  # also on Ctrl-C/SIGTERM: the servers are stopped, leave no litter
            shutil.rmtree(workdir, ignore_errors=True)
    if not passed:
        print(f"logs kept in {workdir}")
    return 0 if passed else 1
