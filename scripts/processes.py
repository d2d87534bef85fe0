"""The one process supervisor of scripts/ and tests/: every server, worker and mock they start.

A :class:`Process` starts a command with its environment, waits until it is ready (a port, an
HTTP URL, a log line, or any probe), writes its output to a log file whose tail goes into the
error when it fails, and is stopped by the PID we spawned — never by name — with a list of
(signal, grace) steps and then SIGKILL, to it and to every process it started (found through
/proc before the first signal: RQ's scheduler, gunicorn's workers, a forked work horse that
put itself in a session of its own). Every running process is registered, and
:func:`stop_all` runs at exit; :func:`install_signal_handlers` makes SIGTERM/SIGHUP reach it.

    with Process("mock", [sys.executable, "-m", "miniprogram_mock.wx_server", "--port", "8001"],
                 log_path=workdir / "mock.log", ready=http_ok("http://127.0.0.1:8001/_mock/stats")):
        ...

One-shot commands go through :func:`run` (a timeout, the output's tail on failure).
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Protocol, Self

__all__ = [
    "HOST",
    "ROOT",
    "Process",
    "ProcessError",
    "descendants",
    "free_port",
    "http_ok",
    "install_signal_handlers",
    "is_alive",
    "log_line",
    "port_open",
    "run",
    "start_time",
    "stop_all",
    "tail",
    "wait_until",
]

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
# (signal, seconds to wait for the exit); ``None`` as the signal only waits (the terminal
# already sent one). SIGKILL to the whole tree always follows the last step.
StopSteps = Sequence[tuple[int | None, float]]
DEFAULT_STOP: StopSteps = ((signal.SIGTERM, 15.0),)


class ProcessError(RuntimeError):
    """A process did not start, or a command failed (the message ends with its log's tail)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def tail(path: Path | None, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file."""
    if path is None:
        return "(output not captured)"
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def wait_until(predicate: Callable[[], Any], timeout_s: float, interval_s: float = 0.1,
               what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy (returned) or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout_s:g}s waiting for {what or predicate}")
        time.sleep(interval_s)


# --- readiness probes --------------------------------------------------------------------------


class Probe(Protocol):
    """Readiness: called with the process being started (``None`` when used on its own)."""

    def __call__(self, process: Process | None = None) -> bool: ...


def port_open(port: int, host: str = HOST) -> Probe:
    """Ready when something accepts TCP connections on ``host:port``."""

    def probe(_process: Process | None = None) -> bool:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            return False

    return probe


class http_ok:  # noqa: N801 (reads as the probes beside it)
    """Ready when a GET of ``url`` answers a status ``accept`` takes (200 by default);
    ``last`` keeps what it saw, for the error message."""

    def __init__(self, url: str, accept: Callable[[int], bool] = lambda status: status == 200):
        self.url, self.accept, self.last = url, accept, ""
        self._parsed = http.client.urlsplit(url)

    def __call__(self, _process: Process | None = None) -> bool:
        conn = http.client.HTTPConnection(self._parsed.hostname or HOST, self._parsed.port,
                                          timeout=2)
        try:
            conn.request("GET", self._parsed.path or "/")
            response = conn.getresponse()
            response.read()
            self.last = f"HTTP {response.status}"
            return self.accept(response.status)
        except (OSError, http.client.HTTPException) as error:
            self.last = type(error).__name__
            return False
        finally:
            conn.close()


def log_line(pattern: str) -> Probe:
    """Ready when the process's log has a line matching the regular expression ``pattern``."""
    regex = re.compile(pattern, re.MULTILINE)

    def probe(process: Process | None = None) -> bool:
        if process is None or process.log_path is None:
            raise ProcessError("a log-line probe needs a process with a log_path")
        with contextlib.suppress(OSError):
            return regex.search(process.log_path.read_text(errors="replace")) is not None
        return False

    return probe


# --- the process tree, from /proc ---------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, parent pid, session id, start time) of ``pid``, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1]), int(fields[3]), int(fields[19])


def _all_stats() -> dict[int, tuple[str, int, int, int]]:
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := _stat(int(entry))) is not None:
            stats[int(entry)] = found
    return stats


def descendants(pid: int) -> dict[int, int]:
    """Live processes started by ``pid`` (children, theirs, and members of the session ``pid``
    leads), each with its start time so that a reused PID is never signalled."""
    stats = _all_stats()
    tree = {pid}
    while True:
        grown = tree | {p for p, (_, parent, _, _) in stats.items() if parent in tree}
        grown |= {p for p, (_, _, session, _) in stats.items() if session == pid}
        if grown == tree:
            break
        tree = grown
    return {p: stats[p][3] for p in tree - {pid} if stats[p][0] != "Z"}


def _alive(pid: int, started: int) -> bool:
    found = _stat(pid)
    return found is not None and found[0] != "Z" and found[3] == started


def start_time(pid: int | None) -> int | None:
    """When ``pid`` started (clock ticks since boot), to know it again later; None if gone."""
    found = _stat(pid) if pid is not None else None
    return found[3] if found is not None else None


def is_alive(pid: int | None, started: int | None) -> bool:
    """``pid`` is still the process that started at ``started`` (not a zombie, not a
    reused PID)."""
    return pid is not None and started is not None and _alive(pid, started)


# --- registry, for stop-all on exit and signals ------------------------------------------------


class _Stoppable(Protocol):
    def stop(self) -> None: ...


_live: dict[int, _Stoppable] = {}  # insertion order = start order
_live_lock = threading.Lock()


def register(thing: _Stoppable) -> None:
    """Have :func:`stop_all` stop ``thing`` (a :class:`Process`, or a server built on them)."""
    with _live_lock:
        _live[id(thing)] = thing


def unregister(thing: _Stoppable) -> None:
    with _live_lock:
        _live.pop(id(thing), None)


def stop_all() -> None:
    """Stop everything still registered, the last started first (an API before its database)."""
    with _live_lock:
        things = list(_live.values())
    for thing in reversed(things):
        with contextlib.suppress(Exception):
            thing.stop()
        unregister(thing)


atexit.register(stop_all)


def install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into ``SystemExit`` so ``finally`` blocks and ``atexit`` run.

    Only from a script's main thread; deliberately not done on import, so that pytest's own
    signal handling stays untouched.
    """

    def _handler(signum: int, _frame: FrameType | None) -> None:
        signal.signal(signum, signal.SIG_IGN)  # a repeat must not interrupt the clean-up
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _handler)


# --- one supervised process --------------------------------------------------------------------


class Process:
    """A long-running child: started, probed until ready, stopped by PID with its whole tree.

    ``log_path`` collects stdout and stderr (appended; ``None`` leaves them on the terminal).
    ``new_session`` (the default) keeps the terminal's Ctrl-C away from the child, so that
    the parent stops its children in order. ``popen`` passes extra ``subprocess.Popen``
    arguments (``user``/``group`` to run PostgreSQL as ``postgres`` with its PID ours).
    """

    def __init__(self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 cwd: Path | str = ROOT, log_path: Path | None = None,
                 ready: Probe | None = None, start_timeout_s: float = START_TIMEOUT_S,
                 stop_steps: StopSteps = DEFAULT_STOP, new_session: bool = True,
                 popen: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.log_path = log_path
        self.ready = ready
        self.start_timeout_s = start_timeout_s
        self.stop_steps = stop_steps
        self.new_session = new_session
        self.popen_kwargs = dict(popen or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.RLock()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def start(self) -> Self:
        """Spawn the command and wait for the probe; on failure it is stopped and raises."""
        with self._lock:
            if self.running:
                return self
            output: Any = None
            if self.log_path is not None:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                output = open(self.log_path, "ab")  # noqa: SIM115 (the child keeps its copy)
            try:
                self.proc = subprocess.Popen(
                    self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                    stdout=output, stderr=subprocess.STDOUT if output else None,
                    start_new_session=self.new_session, **self.popen_kwargs)
            except OSError as error:
                raise ProcessError(f"{self.name}: cannot start {self.argv[0]}: {error}") from None
            finally:
                if output is not None:
                    output.close()
            register(self)
        if self.ready is not None:
            self.wait_ready()
        return self

    def wait_ready(self, timeout_s: float | None = None) -> None:
        """Poll the probe until it passes; raise :class:`ProcessError` (after stopping the
        process) if the process exits first or time runs out."""
        timeout = self.start_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        try:
            while True:
                if not self.running:
                    raise self.failure(f"exited with code {self.returncode} before it was ready")
                if self.ready is None or self.ready(self):
                    return
                if time.monotonic() >= deadline:
                    last = getattr(self.ready, "last", "")  # what the probe saw, if it says
                    seen = f" (last: {last})" if last else ""
                    raise self.failure(f"not ready within {timeout:g}s{seen}")
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def failure(self, message: str) -> ProcessError:
        """An error naming the process, with the tail of its log."""
        return ProcessError(f"{self.name}: {message}\n--- {self.log_path or 'log'} (tail) ---\n"
                            f"{tail(self.log_path)}")

    def wait(self, timeout_s: float | None = None) -> int:
        """Wait for the process to exit by itself; its exit code."""
        assert self.proc is not None, f"{self.name} was never started"
        code = self.proc.wait(timeout=timeout_s)
        unregister(self)
        return code

    def stop(self, steps: StopSteps | None = None) -> None:
        """Each (signal, grace) step until the process has exited, then SIGKILL to whatever is
        left of it and of every process it started. Idempotent."""
        with self._lock:
            proc = self.proc
            if proc is None:
                return
            tree = descendants(proc.pid)  # before the first signal: orphans lose their parent
            for sig, grace_s in self.stop_steps if steps is None else steps:
                if proc.poll() is not None:
                    break
                if sig is not None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=grace_s)
            self._kill_tree(proc, tree)
            unregister(self)

    def kill(self, sig: int = signal.SIGKILL, tree: bool = True) -> None:
        """Send ``sig`` at once, to the process and (``tree``) everything it started — a machine
        dying; then wait for it. Without ``tree`` only the process itself is signalled."""
        with self._lock:
            proc = self.proc
            if proc is None or proc.poll() is not None:
                return
            started = descendants(proc.pid) if tree else {}
            for pid, start in started.items():
                if _alive(pid, start):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, sig)
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            if sig == signal.SIGKILL:
                self._kill_tree(proc, started)
                unregister(self)

    def _kill_tree(self, proc: subprocess.Popen[bytes], tree: Mapping[int, int]) -> None:
        if proc.poll() is None:
            tree = {**tree, **descendants(proc.pid)}
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        for pid, started in tree.items():
            if _alive(pid, started):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        proc.wait()
        # Killed orphans are reaped by init; wait (bounded) until they are really gone.
        deadline = time.monotonic() + 10
        while any(_alive(p, s) for p, s in tree.items()) and time.monotonic() < deadline:
            time.sleep(0.05)

    def output(self) -> str:
        """Everything the process wrote so far (its log file)."""
        return tail(self.log_path, lines=1_000_000) if self.log_path else ""

    def tail(self, lines: int = 30) -> str:
        return tail(self.log_path, lines)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Process {self.name} pid={self.pid}>"


def run(argv: Sequence[str], *, name: str | None = None, env: Mapping[str, str] | None = None,
        cwd: Path | str = ROOT, timeout_s: float = 120, log_path: Path | None = None,
        ok_codes: Iterable[int] = (0,), popen: Mapping[str, Any] | None = None) -> str:
    """Run a one-shot command to its end; its stdout. Its output goes to ``log_path`` when
    given (stdout then returns empty); a timeout or an exit code not in ``ok_codes`` raises
    :class:`ProcessError` with the output's tail."""
    label = name or Path(argv[0]).name
    output: Any = subprocess.PIPE
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        output = open(log_path, "ab")  # noqa: SIM115 (closed below)
    try:
        done = subprocess.run(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                              stdout=output, stderr=subprocess.STDOUT if log_path else output,
                              timeout=timeout_s, **dict(popen or {}))
    except subprocess.TimeoutExpired:
        raise ProcessError(f"{label}: still running after {timeout_s:g}s\n"
                           f"{tail(log_path) if log_path else ''}") from None
    finally:
        if log_path is not None:
            output.close()
    stdout = (done.stdout or b"").decode(errors="replace")
    if done.returncode not in set(ok_codes):
        shown = tail(log_path) if log_path else "\n".join(
            (stdout + (done.stderr or b"").decode(errors="replace")).splitlines()[-30:])
        raise ProcessError(f"{label}: exit code {done.returncode}\n--- output (tail) ---\n{shown}")
    return stdout
