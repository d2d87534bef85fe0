"""The job layer and the schedule (backend/jobs.py, backend/schedule.py): every periodic
job listed once, a slot run once however many clocks look, a raising sweep leaving the
others (and itself) scheduled, and Redis away never raising."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import signal
import threading
from datetime import UTC, datetime, timedelta

import redis as redis_lib
from rq import Queue, SimpleWorker

import backend
from backend import jobs, schedule
from backend.schedule import SCHEDULE, Clock, Periodic, book_due
from tests.test_notify_worker import wait_until

AT = datetime(2026, 12, 2, 8, 0, 0, tzinfo=UTC)
RAN: list[str] = []


@jobs.job
def fine_sweep() -> str:
    RAN.append("fine")
    return "ok"


@jobs.job
def broken_sweep() -> str:
    RAN.append("broken")
    raise RuntimeError("kaput")


def periodic_tasks() -> set[str]:
    """Every job in a ``backend/<domain>/tasks.py`` that takes no argument: a sweep."""
    found = set()
    for info in pkgutil.iter_modules(backend.__path__):
        if not info.ispkg:
            continue
        try:
            module = importlib.import_module(f"backend.{info.name}.tasks")
        except ModuleNotFoundError:
            continue
        for name, func in inspect.getmembers(module, inspect.isfunction):
            wrapped = getattr(func, "__wrapped__", None)
            if func.__module__ == module.__name__ and wrapped is not None \
                    and not inspect.signature(wrapped).parameters:
                found.add(f"{module.__name__}.{name}")
    return found


def test_every_sweep_is_listed_once():
    names = [entry.name for entry in SCHEDULE]
    functions = [f"{entry.job.__module__}.{entry.job.__name__}" for entry in SCHEDULE]
    assert len(set(names)) == len(names) and len(set(functions)) == len(functions)
    assert periodic_tasks() <= set(functions)
    assert {"backend.notify.tasks.drain_outbox", "backend.checkin.tasks.sweep_no_shows",
            "backend.activities.tasks.remind_due", "backend.points.tasks.expire_points",
            "backend.gifts.tasks.expire_reservations",
            "backend.parking.tasks.sweep_missed_shifts"} <= set(functions)


def test_a_slot_is_booked_once_however_many_clocks_look(app, redis_url, monkeypatch):
    booked: list[tuple] = []
    monkeypatch.setattr(jobs, "enqueue", lambda func, *a, **kw: booked.append(
        (func.__name__, kw["job_id"])) or True)
    barrier = threading.Barrier(4)

    def look(at: datetime) -> None:
        with app.app_context():
            barrier.wait()
            book_due(at)

    threads = [threading.Thread(target=look, args=(AT + timedelta(seconds=i % 2 * 0.4),))
               for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(booked) == sorted(set(booked)) and len(booked) == len(SCHEDULE)
    with app.app_context():  # the next slot is free again
        longest = max(app.config[entry.every] for entry in SCHEDULE)
        assert len(book_due(AT + timedelta(seconds=longest))) == len(SCHEDULE)


def test_two_clock_threads_run_each_slot_once(app, redis_url, monkeypatch):
    booked: list[str] = []
    lock = threading.Lock()

    def record(func, *args, **options) -> bool:
        with lock:
            booked.append(options["job_id"])
        return True

    monkeypatch.setattr(jobs, "enqueue", record)
    monkeypatch.setitem(app.config, "FAST_S", 1)
    tiny = (Periodic(fine_sweep, every="FAST_S"),)
    clocks = [Clock(app, tiny), Clock(app, tiny)]
    for clock in clocks:
        clock.start()
    try:
        wait_until(lambda: len(set(booked)) >= 3, timeout=15, what="three slots")
    finally:
        for clock in clocks:
            clock.stop()
            clock.join(timeout=10)
    assert len(booked) == len(set(booked))


def test_a_raising_sweep_leaves_the_others_and_itself_scheduled(app, redis_url):
    RAN.clear()
    pair = (Periodic(broken_sweep), Periodic(fine_sweep))
    connection = redis_lib.Redis.from_url(redis_url)
    interval = app.config["OUTBOX_DRAIN_INTERVAL_S"]
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with app.app_context():
            for slot in range(2):
                assert book_due(AT + timedelta(seconds=slot * interval), pair) == [
                    entry.name for entry in pair]
                SimpleWorker([Queue(jobs.PRIORITY_QUEUE_NAME, connection=connection)],
                             connection=connection).work(burst=True)
    finally:  # RQ's worker installs its own; the rest of the session needs pytest's
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert RAN == ["broken", "fine", "broken", "fine"]
    failed = Queue(jobs.PRIORITY_QUEUE_NAME, connection=connection).failed_job_registry
    assert len(failed) == 2


def test_run_all_reports_a_raising_sweep_and_runs_the_rest(app):
    RAN.clear()
    with app.app_context():
        report = schedule.run_all((Periodic(broken_sweep), Periodic(fine_sweep)))
    assert isinstance(report["test_jobs-broken_sweep"], RuntimeError)
    assert report["test_jobs-fine_sweep"] == "ok" and RAN == ["broken", "fine"]


def test_redis_away_books_nothing_and_raises_nothing(app, monkeypatch):
    away = redis_lib.Redis(port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr(schedule, "redis_connection", lambda: away)
    monkeypatch.setattr(jobs, "redis_connection", lambda: away)
    with app.app_context():
        assert book_due(AT) == []
        assert jobs.enqueue(fine_sweep) is False
        assert jobs.unschedule("reminder-1-24h") is False


def test_enqueue_books_a_job_at_its_moment(app, redis_url):
    with app.app_context():
        assert jobs.enqueue(fine_sweep, at=AT + timedelta(days=400), priority=True,
                            job_id="later-1")
        registry = jobs.priority_queue().scheduled_job_registry
        assert "later-1" in registry.get_job_ids()
        assert jobs.unschedule("later-1", "never-booked", priority=True)
        assert "later-1" not in registry.get_job_ids()
