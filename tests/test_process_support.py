"""The process supervisor every script and test starts its processes with
(``scripts/processes.py``): readiness, stop by PID with the whole tree, logs and their tail."""

from __future__ import annotations

import os
import signal
import sys
import textwrap

import pytest

from scripts import processes
from scripts.processes import (
    Process,
    ProcessError,
    descendants,
    free_port,
    http_ok,
    log_line,
    port_open,
    wait_until,
)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_waits_for_http_and_stops_by_pid(tmp_path):
    port = free_port()
    server = Process("http", [sys.executable, "-m", "http.server", str(port), "--bind",
                              "127.0.0.1"], cwd=tmp_path, log_path=tmp_path / "http.log",
                     ready=http_ok(f"http://127.0.0.1:{port}/"))
    with server:
        assert server.running and port_open(port)()
        pid = server.pid
    assert not server.running and gone(pid)
    assert not port_open(port)()


def test_stop_takes_the_whole_tree_even_a_child_in_its_own_session(tmp_path):
    # Like RQ's work horse: a grandchild that left our session and ignores SIGTERM.
    pidfile = tmp_path / "grandchild.pid"
    parent = Process("parent", python(f"""
        import os, signal, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"],
            start_new_session=True)
        open({str(pidfile)!r}, "w").write(str(child.pid))
        print("ready", flush=True)
        time.sleep(600)
    """), log_path=tmp_path / "parent.log", ready=log_line("^ready$"),
        stop_steps=((signal.SIGTERM, 2.0),)).start()
    grandchild = int(pidfile.read_text())
    assert grandchild in descendants(parent.pid)
    parent.stop()
    assert gone(grandchild) and not parent.running


def test_sigterm_ignored_ends_in_sigkill(tmp_path):
    stubborn = Process("stubborn", python("""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(600)
    """), log_path=tmp_path / "stubborn.log", ready=log_line("ready"),
        stop_steps=((signal.SIGTERM, 0.5),)).start()
    stubborn.stop()
    assert stubborn.returncode == -signal.SIGKILL


def test_a_process_that_dies_before_ready_fails_with_its_log_tail(tmp_path):
    doomed = Process("doomed", python("import sys; print('bad config: LINLI_X'); sys.exit(3)"),
                     log_path=tmp_path / "doomed.log", ready=port_open(free_port()))
    with pytest.raises(ProcessError) as failure:
        doomed.start()
    assert "exited with code 3" in str(failure.value)
    assert "bad config: LINLI_X" in str(failure.value)
    assert not doomed.running


def test_not_ready_in_time_is_stopped_and_says_what_the_probe_saw(tmp_path):
    port = free_port()
    silent = Process("silent", python("import time; time.sleep(600)"),
                     log_path=tmp_path / "silent.log",
                     ready=http_ok(f"http://127.0.0.1:{port}/healthz"), start_timeout_s=0.5)
    with pytest.raises(ProcessError, match=r"not ready within 0.5s \(last: ConnectionRefused"):
        silent.start()
    assert not silent.running and gone(silent.pid)


def test_stop_all_stops_what_is_still_registered(monkeypatch):
    # A registry of this test's own: the session's Redis must outlive it.
    monkeypatch.setattr(processes, "_live", {})
    first = Process("one", python("import time; time.sleep(600)")).start()
    second = Process("two", python("import time; time.sleep(600)")).start()
    stopped = []
    processes.register(type("Server", (), {"stop": lambda self: stopped.append("server")})())
    processes.stop_all()
    assert not first.running and not second.running and stopped == ["server"]
    assert processes._live == {}


def test_run_returns_stdout_and_fails_with_the_tail(tmp_path):
    assert processes.run(python("print('hello')")).strip() == "hello"
    with pytest.raises(ProcessError, match=r"(?s)exit code 2.*went wrong"):
        processes.run(python("import sys; print('went wrong', file=sys.stderr); sys.exit(2)"))
    with pytest.raises(ProcessError, match="still running after 0.5s"):
        processes.run(python("import time; time.sleep(30)"), timeout_s=0.5)


def test_wait_until_returns_the_value_or_times_out():
    calls = iter([0, None, 7])
    assert wait_until(lambda: next(calls), 5, interval_s=0.01) == 7
    with pytest.raises(TimeoutError, match="the impossible"):
        wait_until(lambda: False, 0.2, interval_s=0.05, what="the impossible")


def test_rq_worker_killed_takes_its_scheduler_with_it(app, rq_workers):
    worker = rq_workers()
    # RQ's scheduler runs as a child process of the worker once it holds the scheduler lock.
    children = wait_until(lambda: worker.children, 30, what="RQ's scheduler process")
    worker.kill(signal.SIGKILL)
    assert not worker.running
    assert all(gone(pid) for pid in children)
    assert os.path.getsize(worker.log_path) > 0


def test_rq_worker_stops_on_sigterm_when_idle(app, rq_workers):
    """SIGTERM (systemd's stop, scripts/dev's Ctrl-C) ends an idle worker: RQ's loop ending
    on a stop signal is not the Redis failure the worker restarts its loop after."""
    from backend.schedule import SCHEDULE

    # Long intervals: after the first slot's jobs nothing is due, so the worker is idle.
    worker = rq_workers(OUTBOX_DRAIN_INTERVAL_S="3600", EVALUATION_INVITE_INTERVAL_S="3600")
    wait_until(lambda: worker.output().count("Job OK (sweep-") >= len(SCHEDULE), 60,
               what="the first slot's sweeps done")
    children = wait_until(lambda: worker.children, 30, what="RQ's scheduler process")
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.wait(timeout_s=20) == 0
    assert "working again" not in worker.output()
    assert all(gone(pid) for pid in children)
