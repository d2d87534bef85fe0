"""Notification fan-out (SPEC §10): time to fan out N activity reminders through RQ to the
mock WeChat platform, and the send rate of one worker, beside a same-run baseline.

The fan-out is the production path: ``backend.activities.reminders.remind_activity`` writes N
outbox rows in one transaction, the after-commit relay hands N send jobs to RQ, and ONE
``flask --app backend worker`` process (RQ's SimpleWorker, with its scheduler) claims each
row, spends its subscription grant and calls the mock's ``subscribe/send``. The baseline is
the same number of sends made directly by this process with ``WeChatClient`` in a loop (no
queue, no database): the raw speed of talking to the same mock, so the worker's rate reads
as a ratio of it.

Everything runs on 127.0.0.1 in throw-away servers: PostgreSQL, Redis, and the mock in its
own process (so that neither the worker nor the baseline shares an interpreter with it).
Checks that the mock received exactly one message per resident, that every outbox row ended
``sent`` and that no RQ job failed; exits 1 if any check fails.

    python -m scripts.bench.notify [--reminders 10000] [--timeout 3600] [--stall-timeout 60]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from redis import Redis
from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from scripts.bench.common import (
    HOST,
    HttpRequest,
    clean_env,
    format_checks,
    format_problems,
    postgres_version,
    production_env,
    run_keeping_logs_on_failure,
    run_load,
)
from scripts.bench.signup_burst import migrate, seed_residents
from scripts.processes import Probe, Process, free_port, http_ok, wait_until
from scripts.services import PostgresServer, RedisServer, install_signal_handlers

DATABASE = "linli_bench_notify"
TEMPLATE_KEY = "activity_reminder"
OPENID_PREFIX = "bench-notify-"
DIRECT_PREFIX = "bench-direct-"
GRANT_CONCURRENCY = 8  # client threads granting credits at the mock (set-up, not measured)
POLL_S = 0.05


# --- command line ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench.notify",
        description="Reminder fan-out through RQ to the mock WeChat platform, beside direct "
                    "sends from one process.")
    parser.add_argument("--reminders", type=int, default=10_000,
                        help="residents reminded (one confirmed sign-up and grant each)")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds the worker may take to deliver every reminder")
    parser.add_argument("--stall-timeout", type=float, default=60,
                        help="give up when no message reached the mock for this many seconds")
    # Internal: the child processes this benchmark starts.
    parser.add_argument("--serve-mock", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--mock-appid", help=argparse.SUPPRESS)
    parser.add_argument("--mock-secret", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reminders < 1 or args.timeout <= 0 or args.stall_timeout <= 0:
        parser.error("--reminders must be >= 1, --timeout and --stall-timeout > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_mock is not None:
        return serve_mock(args.serve_mock, args.mock_appid, args.mock_secret)
    install_signal_handlers()
    return run_keeping_logs_on_failure("linli-bench-notify-", lambda workdir: run(args, workdir))


# --- child processes ---------------------------------------------------------------------------


def serve_mock(port: int, appid: str, secret: str) -> int:
    """The mock WeChat platform (quiet: no line per request) until SIGTERM/SIGINT."""
    from miniprogram_mock.wx_server import start_in_thread

    def stop_serving(signum: int, _frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop_serving)
    signal.signal(signal.SIGINT, stop_serving)
    _url, stop = start_in_thread(HOST, port, appid=appid, secret=secret)
    try:
        while True:
            signal.pause()
    finally:
        stop()


class ChildProcess(Process):
    """A child in its own session, logging to a file; stopped by PID, never by name.

    ``stop`` sends SIGTERM to the child (RQ's warm shutdown, the mock's exit), then SIGKILL
    to every process it started that is still there: RQ's scheduler process and a work horse
    (which RQ puts in a process group of its own) — the supervisor's stop.
    """

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path,
                 ready: Probe | None = None) -> None:
        super().__init__(name, argv, env=env, log_path=log_path, ready=ready,
                         stop_steps=((signal.SIGTERM, 20.0),))

    @property
    def alive(self) -> bool:
        return self.running

    def log_problems(self, max_lines: int = 15) -> list[str]:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except (OSError, AttributeError):
            return []
        seen: Counter[str] = Counter(
            line.strip()[:250] for line in lines
            if any(word in line for word in ("Error", "error", "Traceback", "WARNING",
                                              "failed", "Exception")))
        if not seen:
            return []
        return [f"{self.name} log ({self.log_path}):",
                *(f"  x{n} {text}" for text, n in list(seen.items())[:max_lines])]


class MockWeChat(ChildProcess):
    def __init__(self, appid: str, secret: str, log_path: Path) -> None:
        self.port = free_port()
        super().__init__("mock WeChat", [
            sys.executable, "-m", "scripts.bench.notify", "--serve-mock", str(self.port),
            "--mock-appid", appid, "--mock-secret", secret], clean_env({}), log_path,
            ready=http_ok(f"http://{HOST}:{self.port}/_mock/stats"))

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def messages_sent(self, http: requests.Session) -> int:
        return int(http.get(self.url + "/_mock/stats", timeout=10).json()["messages_sent"])

    def grant_credits(self, openids: list[str], template_id: str) -> None:
        """One subscribe-message credit per openid (what the resident's phone accepted)."""
        calls = [HttpRequest.json("POST", "/_mock/subscribe",
                                  {"openid": openid, "template_id": template_id})
                 for openid in openids]
        result = run_load("mock credits", self.url, calls, GRANT_CONCURRENCY)
        if result.statuses[200] != len(openids):
            raise RuntimeError("granting credits at the mock failed: "
                               + "; ".join(format_problems(result)))


# --- set-up ------------------------------------------------------------------------------------


@dataclass
class Seeded:
    activity_id: int
    user_ids: list[int]
    openids: list[str]


def bench_app(app_env: dict[str, str]) -> Flask:
    """An in-process app with the worker's database, Redis, mock and template ids."""
    from backend import create_app
    from backend.config import DEFAULT_TEMPLATE_IDS

    return create_app({
        "LINLI_ENV": "test",  # in-process only; the worker runs with production settings
        "SQLALCHEMY_DATABASE_URI": app_env["LINLI_DATABASE_URL"],
        "REDIS_URL": app_env["LINLI_REDIS_URL"],
        "WECHAT_API_BASE": app_env["LINLI_WECHAT_API_BASE"],
        "WECHAT_APPID": app_env["LINLI_WECHAT_APPID"],
        "WECHAT_SECRET": app_env["LINLI_WECHAT_SECRET"],
        "SECRET_KEY": app_env["LINLI_SECRET_KEY"],
        "QUIET_HOURS": "off",
        # The worker's environment has no LINLI_TEMPLATE_* overrides: use the defaults too.
        "TEMPLATE_IDS": dict(DEFAULT_TEMPLATE_IDS),
    })


def seed(app: Flask, count: int) -> Seeded:
    """One community and team, ``count`` residents (bulk inserts, one transaction), one
    published activity with ``count`` seats, all taken by confirmed sign-ups.

    The activity starts in three days, outside both reminder windows, so that the worker's
    scheduled catch-up (``remind_due_activities``) never writes these reminders itself: the
    benchmark calls ``remind_activity`` for the "1h" lead when it chooses.
    """
    from backend.activities.models import Activity, ActivityStatus, Signup, SignupStatus
    from backend.common.clock import now
    from backend.extensions import db

    with app.app_context():
        community, team, users = seed_residents(count, OPENID_PREFIX)
        starts = now() + timedelta(days=3)
        activity = Activity(team_id=team.id, community_id=community.id, title="社区义诊",
                            location="社区活动室", starts_at=starts,
                            ends_at=starts + timedelta(hours=2), capacity=count,
                            status=ActivityStatus.PUBLISHED, confirmed_count=count,
                            created_by=users[0].id, published_at=now())
        db.session.add(activity)
        db.session.flush()
        db.session.execute(insert(Signup), [
            {"activity_id": activity.id, "user_id": user.id, "status": SignupStatus.CONFIRMED,
             "confirmed_at": now()} for user in users])
        db.session.commit()
        return Seeded(activity.id, [u.id for u in users], [u.openid for u in users])


def grant_subscriptions(app: Flask, user_ids: list[int]) -> None:
    """One ``activity_reminder`` grant per resident, as ``POST /me/subscriptions`` records."""
    from backend.extensions import db
    from backend.notify.models import SubscriptionGrant

    with app.app_context():
        db.session.execute(insert(SubscriptionGrant), [
            {"user_id": uid, "template_key": TEMPLATE_KEY} for uid in user_ids])
        db.session.commit()


# --- measurements ------------------------------------------------------------------------------


@dataclass
class Direct:
    sends: int
    elapsed_s: float
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.sends / self.elapsed_s if self.elapsed_s else 0.0


def run_direct(app: Flask, mock: MockWeChat, redis_url: str, count: int,
               activity_id: int) -> Direct:
    """``count`` subscribe messages from this process in a loop: one keep-alive session,
    the access token read from Redis as the backend's client always does."""
    from backend.wechat import WeChatClient, WeChatError

    template_id = app.config["TEMPLATE_IDS"][TEMPLATE_KEY]
    openids = [f"{DIRECT_PREFIX}{i:05d}" for i in range(count)]
    mock.grant_credits(openids, template_id)
    data = {"thing1": "「社区义诊」将于明天 09:00开始…", "time2": "2030年01月01日 09:00",
            "thing3": "活动开始提醒"}
    page = f"pages/activity/detail?id={activity_id}"
    redis = Redis.from_url(redis_url)
    client = WeChatClient(mock.url, app.config["WECHAT_APPID"], app.config["WECHAT_SECRET"],
                          redis=redis)
    try:
        client.access_token()  # the token fetch is set-up, as it is for the warm worker
        errors: Counter[str] = Counter()
        started = time.perf_counter()
        sent = 0
        for openid in openids:
            try:
                client.send_subscribe_message(openid, template_id, data, page=page)
                sent += 1
            except WeChatError as error:
                errors[str(error)[:120]] += 1
        return Direct(sent, time.perf_counter() - started, errors)
    finally:
        client.close()
        redis.close()


class StatsSampler(threading.Thread):
    """Polls the mock's message count every POLL_S: when the first and the target-th
    message of a phase arrived (to within one poll)."""

    def __init__(self, mock: MockWeChat, start_count: int, target: int) -> None:
        super().__init__(daemon=True, name="stats-sampler")
        self.mock, self.start_count, self.target = mock, start_count, target
        self.first: tuple[float, int] | None = None  # (time, messages this phase)
        self.last: tuple[float, int] | None = None
        self.error: str | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        http = requests.Session()
        try:
            while not self._stop_event.is_set():
                try:
                    count = self.mock.messages_sent(http) - self.start_count
                except (requests.RequestException, ValueError, KeyError) as error:
                    self.error = f"{type(error).__name__}: {error}"
                    time.sleep(POLL_S)
                    continue
                at = time.perf_counter()
                if count > 0 and self.first is None:
                    self.first = (at, count)
                if self.last is None or count != self.last[1]:
                    self.last = (at, count)
                if count >= self.target:
                    return
                time.sleep(POLL_S)
        finally:
            http.close()

    @property
    def received(self) -> int:
        return self.last[1] if self.last else 0

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=15)


@dataclass
class Fanout:
    label: str
    written: int
    write_s: float  # remind_activity up to its commit: N outbox rows
    enqueue_s: float  # after the commit: the relay's N enqueues and the queued_at stamp
    received: int  # messages at the mock in this phase
    end_to_end_s: float | None  # remind_activity called → the N-th message at the mock
    send_s: float | None  # first → N-th message at the mock
    send_count: int  # messages between those two samples
    jobs_ok: int = 0
    jobs_failed: int = 0
    job_time_s: float = 0.0  # RQ's total_working_time over the phase (inside the job)
    problems: list[str] = field(default_factory=list)

    @property
    def send_rate(self) -> float:
        return self.send_count / self.send_s if self.send_s else 0.0


def wait_for_sampler(sampler: StatsSampler, worker: ChildProcess, deadline: float,
                     stall_s: float, progress_every_s: float = 60) -> bool:
    """Wait for the sampler to see every message; True if it stopped on a stall."""
    started = next_progress = time.perf_counter()
    while sampler.is_alive() and worker.alive:
        sampler.join(timeout=0.5)
        at = time.perf_counter()
        if at >= deadline:
            return False
        if sampler.last is not None and at - sampler.last[0] > stall_s:
            return True
        if at >= next_progress + progress_every_s:
            next_progress = at
            print(f"  ... {sampler.received}/{sampler.target} messages after "
                  f"{at - started:.0f}s", flush=True)
    return False


def worker_counters(redis: Redis) -> tuple[int, int, float]:
    """(successful jobs, failed jobs, total working time) summed over the live workers."""
    from rq import Worker

    workers = Worker.all(connection=redis)
    return (sum(w.successful_job_count for w in workers),
            sum(w.failed_job_count for w in workers),
            sum(w.total_working_time for w in workers))


def wait_for_idle_worker(redis: Redis, worker: ChildProcess, timeout_s: float = 60) -> None:
    """The worker has registered, run its first scheduled sweeps and emptied the queue."""
    from rq import Queue, Worker

    from backend.jobs import QUEUE_NAME

    work_queue = Queue(QUEUE_NAME, connection=redis)

    def idle() -> bool:
        if not worker.alive:
            raise RuntimeError(f"{worker.name} exited at start-up; see {worker.log_path}")
        workers = Worker.all(connection=redis)
        return bool(workers) and work_queue.count == 0 and \
            all(w.get_state() == "idle" for w in workers)

    wait_until(idle, timeout_s, interval_s=0.2, what=f"{worker.name} to be idle")


def run_fanout(label: str, app: Flask, seeded: Seeded, lead: str, mock: MockWeChat,
               redis: Redis, worker: ChildProcess, timeout_s: float,
               stall_s: float) -> Fanout:
    """remind_activity(activity, lead) in this process while ``worker`` sends; waits until
    the mock has every message, the worker dies, ``timeout_s`` passes or no message came
    for ``stall_s``."""
    from backend.activities.reminders import remind_activity

    wait_for_idle_worker(redis, worker)
    before = worker_counters(redis)
    http = requests.Session()
    try:
        start_count = mock.messages_sent(http)
    finally:
        http.close()
    target = len(seeded.user_ids)
    sampler = StatsSampler(mock, start_count, target)
    commits: list[float] = []

    def committed(_session: Session) -> None:
        commits.append(time.perf_counter())

    # First in line, before the relay's own after_commit hook starts enqueueing.
    event.listen(Session, "after_commit", committed, insert=True)
    sampler.start()
    try:
        started = time.perf_counter()
        try:
            with app.app_context():
                written = remind_activity(seeded.activity_id, lead)
        finally:
            event.remove(Session, "after_commit", committed)
        returned = time.perf_counter()
        stalled = wait_for_sampler(sampler, worker, started + timeout_s, stall_s)
    finally:
        sampler.stop()
    committed_at = commits[0] if commits else returned
    problems = [f"mock stats: {sampler.error}"] if sampler.error else []
    if not worker.alive:
        problems.append(f"{worker.name} died during the fan-out")
    elif sampler.received < target:
        why = f"none for {stall_s:.0f}s" if stalled else f"timeout {timeout_s:.0f}s"
        problems.append(f"only {sampler.received} of {target} messages ({why})")
    done = sampler.received >= target and sampler.last is not None
    first, last = sampler.first, sampler.last
    if worker.alive:
        # The last job books its success in RQ just after the mock answered it.
        with contextlib.suppress(TimeoutError, RuntimeError):
            wait_for_idle_worker(redis, worker, timeout_s=10)
    after = worker_counters(redis) if worker.alive else before
    return Fanout(
        label=label, written=written, write_s=committed_at - started,
        enqueue_s=returned - committed_at, received=sampler.received,
        end_to_end_s=(last[0] - started) if done and last else None,
        send_s=(last[0] - first[0]) if done and first and last and last[0] > first[0] else None,
        send_count=(last[1] - first[1]) if first and last else 0,
        jobs_ok=after[0] - before[0], jobs_failed=after[1] - before[1],
        job_time_s=after[2] - before[2], problems=problems)


# --- checks ------------------------------------------------------------------------------------


def wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    try:
        return bool(wait_until(predicate, timeout_s, interval_s=0.2))
    except TimeoutError:
        return False


def outbox_statuses(app: Flask, activity_id: int, lead: str) -> Counter[str]:
    from backend.extensions import db
    from backend.notify.models import Notification

    with app.app_context():
        rows = db.session.execute(
            select(Notification.status, func.count())
            .where(Notification.dedupe_key.like(f"{TEMPLATE_KEY}:{activity_id}:%:{lead}"))
            .group_by(Notification.status)).all()
        db.session.rollback()
    return Counter({str(status): n for status, n in rows})


def used_grants(app: Flask) -> int:
    from backend.extensions import db
    from backend.notify.models import SubscriptionGrant

    with app.app_context():
        used = db.session.scalar(select(func.count()).select_from(SubscriptionGrant)
                                 .where(SubscriptionGrant.used_at.is_not(None)))
        db.session.rollback()
    return int(used or 0)


def mock_messages_by_openid(mock: MockWeChat, template_id: str) -> Counter[str]:
    items = requests.get(mock.url + "/_mock/messages", params={"template_id": template_id},
                         timeout=60).json()["items"]
    return Counter(m["touser"] for m in items if m["touser"].startswith(OPENID_PREFIX))


def failed_jobs(redis: Redis) -> int:
    from rq import Queue

    from backend.jobs import QUEUE_NAME

    return Queue(QUEUE_NAME, connection=redis).failed_job_registry.count


def verify_fanout(app: Flask, seeded: Seeded, lead: str, fanout: Fanout, mock: MockWeChat,
                  redis: Redis, expected_per_openid: int) -> list[tuple[str, bool]]:
    n = len(seeded.user_ids)
    # record_sent commits just after the mock answered: give the last row a moment.
    wait_for(lambda: outbox_statuses(app, seeded.activity_id, lead)["sent"] >= n, 30)
    statuses = outbox_statuses(app, seeded.activity_id, lead)
    per_openid = mock_messages_by_openid(mock, app.config["TEMPLATE_IDS"][TEMPLATE_KEY])
    extra = ", ".join(f"{k}={v}" for k, v in sorted(statuses.items()) if k != "sent")
    duplicates = sum(1 for c in per_openid.values() if c > expected_per_openid)
    return [
        (f"{fanout.label}: rows written={fanout.written}", fanout.written == n),
        (f"{fanout.label}: messages={fanout.received}", fanout.received == n),
        (f"{fanout.label}: outbox sent={statuses['sent']}" + (f" ({extra})" if extra else ""),
         statuses["sent"] == n and sum(statuses.values()) == n),
        (f"{fanout.label}: duplicates={duplicates}",
         duplicates == 0 and len(per_openid) == n
         and set(per_openid) == set(seeded.openids)
         and all(c == expected_per_openid for c in per_openid.values())),
        (f"{fanout.label}: failed jobs={failed_jobs(redis)}", failed_jobs(redis) == 0),
    ]


# --- the run -----------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path) -> bool:
    n = args.reminders
    appid, secret = "wx_bench_notify", secrets.token_urlsafe(16)
    with PostgresServer() as postgres, RedisServer() as redis_server, \
            MockWeChat(appid, secret, workdir / "mock.log") as mock:
        url = postgres.create_database(DATABASE)
        version = postgres_version(postgres, DATABASE)
        app_env = production_env(url, redis_server.url(), WECHAT_API_BASE=mock.url,
                                 WECHAT_APPID=appid, WECHAT_SECRET=secret, QUIET_HOURS="off")
        migrate(app_env)
        app = bench_app(app_env)
        redis = Redis.from_url(redis_server.url())
        template_id = app.config["TEMPLATE_IDS"][TEMPLATE_KEY]
        report = Report(n=n, pg_version=version)
        try:
            print(f"seeding {n} residents with a confirmed sign-up and a reminder grant each, "
                  f"and {n} credits at the mock ...", flush=True)
            set_up = time.perf_counter()
            seeded = seed(app, n)
            grant_subscriptions(app, seeded.user_ids)
            mock.grant_credits(seeded.openids, template_id)
            report.set_up_s = time.perf_counter() - set_up
            print(f"baseline: {n} direct sends from this process ...", flush=True)
            report.direct = run_direct(app, mock, redis_server.url(), n, seeded.activity_id)
            report.checks.append((f"direct sends={report.direct.sends}",
                                  report.direct.sends == n))
            print(f"fan-out: {n} reminders through one `flask --app backend worker` ...",
                  flush=True)
            worker_argv = [sys.executable, "-m", "flask", "--app", "backend", "worker"]
            with ChildProcess("rq worker", worker_argv, app_env,
                              workdir / "worker.log") as worker:
                fanout = run_fanout("worker", app, seeded, "1h", mock, redis, worker,
                                    args.timeout, args.stall_timeout)
            if fanout.problems:
                fanout.problems += worker.log_problems()
            report.fanout = fanout
            report.checks += verify_fanout(app, seeded, "1h", fanout, mock, redis, 1)
            grants = used_grants(app)
            report.checks.append((f"grants used={grants}", grants == n))
        finally:
            redis.close()
            with app.app_context():
                from backend.extensions import db

                db.session.remove()
                db.engine.dispose()
    report.print()
    return report.passed


@dataclass
class Report:
    n: int
    pg_version: str
    set_up_s: float = 0.0
    direct: Direct | None = None
    fanout: Fanout | None = None
    checks: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.fanout is not None and all(ok for _, ok in self.checks)

    def print(self) -> None:
        direct, fanout = self.direct, self.fanout
        assert direct is not None and fanout is not None
        print(f"\nnotifications: {self.n} activity reminders, ONE `flask --app backend worker` "
              f"(RQ {rq_version()}, SimpleWorker), PostgreSQL {self.pg_version}, mock WeChat in "
              f"its own process")
        print(f"({os.cpu_count()} CPUs shared by this process, the worker, the mock, PostgreSQL "
              f"and Redis; set-up {self.set_up_s:.1f}s, not measured)")
        print(f"{'':<38}{'seconds':>9}{'per s':>9}")
        rows = [
            ("fan-out: outbox rows written", fanout.write_s, fanout.written, "rows"),
            ("fan-out: RQ jobs enqueued (relay)", fanout.enqueue_s, fanout.written, "jobs"),
            ("worker: first → last message", fanout.send_s, fanout.send_count, "msg"),
            ("end to end: remind → last message", fanout.end_to_end_s, fanout.received, "msg"),
            ("baseline: direct sends, 1 process", direct.elapsed_s, direct.sends, "msg"),
        ]
        for name, seconds, count, unit in rows:
            print(f"{name:<38}{_secs(seconds)}{_rate(count, seconds)} {unit}/s")
        ratio = (f"{fanout.send_rate / direct.rate:.3f}" if direct.rate and fanout.send_rate
                 else "n/a")
        print(f"ratio (worker send rate / direct send rate): {ratio}")
        print(_job_line("worker", fanout))
        print(format_checks(self.checks))
        if direct.errors:
            print("direct send errors: "
                  + "; ".join(f"x{v} {k}" for k, v in direct.errors.items()))
        for line in fanout.problems:
            print(line)


def rq_version() -> str:
    from rq.version import VERSION

    return VERSION


def _rate(count: float, seconds: float | None) -> str:
    return f"{count / seconds:>9.0f}" if seconds else f"{'n/a':>9}"


def _secs(seconds: float | None) -> str:
    return f"{seconds:>9.2f}" if seconds is not None else f"{'n/a':>9}"


def _job_line(name: str, fanout: Fanout) -> str:
    """Where a job's time goes: inside it (RQ's working time: claim, send, record) and
    around it (dequeue and RQ's bookkeeping in the worker process)."""
    jobs = fanout.jobs_ok + fanout.jobs_failed
    extra = jobs - fanout.received
    summary = (f"{name}: {jobs} jobs run for {fanout.received} messages, "
               f"{fanout.jobs_failed} failed"
               + (f"; {extra} extra job{'s' * (extra != 1)} (periodic ticks, duplicates "
                  f"re-enqueued by the outbox drain) sent nothing" if extra > 0 else ""))
    if not jobs or not fanout.send_s:
        return summary
    wall_ms = fanout.send_s / jobs * 1000
    inside_ms = fanout.job_time_s / jobs * 1000
    around = "dequeue, RQ bookkeeping"
    return (f"{summary}\n  per job: {wall_ms:.1f} ms wall = {inside_ms:.1f} ms inside the job "
            f"(claim, send, record) + {max(wall_ms - inside_ms, 0):.1f} ms around it ({around})")


if __name__ == "__main__":
    sys.exit(main())
