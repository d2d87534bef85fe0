"""Faults with real processes (SPEC §1, §11): a running worker outlives a PostgreSQL restart
and a Redis restart that loses every key, and the schedule comes back by itself — the
outbox drains, the sweeps run again — with no worker restart; a sweep that raises stops
neither the others nor its own next run. Every wait has a deadline."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from flask_migrate import upgrade

from backend.common.clock import now
from backend.extensions import db
from backend.notify import outbox
from backend.notify.services import notify
from scripts.services import PostgresServer, RedisServer
from tests.conftest import make_app
from tests.factories import Factory
from tests.process_support import WorkerProcess
from tests.test_notify_worker import messages, sign_up, subscribe, wait_until

OUTAGE_S = 60  # deadline for what must happen after an outage (the interval is 1 s)


def unrelayed_notice(app, user_id: int) -> None:
    """A notice whose commit never reached RQ (as if Redis had been away): only the
    scheduled outbox drain can send it."""
    with app.app_context():
        notify(user_id, "signup_confirmed", "故障后的通知", dedupe_key=f"fault:{uuid.uuid4()}")
        db.session.info.pop(outbox.NEW_NOTICES, None)
        db.session.commit()


def output_after(worker: WorkerProcess, mark: int) -> str:
    return worker.output()[mark:]


def sweep_ran(worker: WorkerProcess, mark: int, name: str) -> bool:
    """RQ logged a scheduled run of ``name`` that succeeded, after ``mark``."""
    return f"Job OK (sweep-{name}-" in output_after(worker, mark)


def messages_to(mock_wx: str, openid: str, count: int) -> bool:
    return len(messages(mock_wx, openid)) >= count


@pytest.mark.postgres_only
def test_the_schedule_comes_back_after_postgresql_restarts(rq_workers, redis_url, mock_wx):
    pg = PostgresServer().start()
    try:
        url = pg.create_database("linli_faults")
        own = make_app(url, redis_url, mock_wx)
        with own.app_context():
            upgrade()
        make = Factory(own, own.test_client())
        world = make.world()
        person = world.resident_a
        subscribe(make, mock_wx, person, times=2)
        worker = rq_workers(DATABASE_URL=url)
        sign_up(make, world, person)
        wait_until(lambda: messages_to(mock_wx, person.openid, 1), timeout=OUTAGE_S,
                   what="the first notice")

        pg.pause()
        mark = len(worker.output())
        # Longer than an interval: the worker's sweeps fail on the lost database.
        wait_until(lambda: "OperationalError" in output_after(worker, mark), timeout=OUTAGE_S,
                   what="sweeps failing while PostgreSQL is down")
        pg.resume()
        restarted = len(worker.output())
        with own.app_context():
            db.engine.dispose()  # the test's own pool; the worker recovers by itself
        unrelayed_notice(own, person.id)
        wait_until(lambda: messages_to(mock_wx, person.openid, 2), timeout=OUTAGE_S,
                   what="the outbox drained after the outage")
        wait_until(lambda: sweep_ran(worker, restarted, "checkin-sweep_no_shows"),
                   timeout=OUTAGE_S, what="the no-show sweep running again")
        assert worker.running
    finally:
        pg.stop()


def test_the_schedule_comes_back_after_redis_restarts_empty(app, make, world, mock_wx,
                                                            rq_workers):
    person = world.resident_a
    subscribe(make, mock_wx, person, times=2)
    with RedisServer() as redis:  # no persistence: a restart loses every key
        own = make_app(app.config["SQLALCHEMY_DATABASE_URI"], redis.url(0), mock_wx)
        client = own.test_client()
        worker = rq_workers(redis.url(0))
        first = make.activity(world.team_a)
        assert client.post(f"/api/v1/activities/{first}/signups",
                           headers=person.headers).status_code == 201
        wait_until(lambda: messages_to(mock_wx, person.openid, 1), timeout=OUTAGE_S,
                   what="the first notice")

        redis.stop_keep_port()
        mark = len(worker.output())
        second = make.activity(world.team_a, starts_at=now() + timedelta(days=5))
        assert client.post(f"/api/v1/activities/{second}/signups",
                           headers=person.headers).status_code == 201  # SPEC §11
        wait_until(lambda: "Redis unavailable" in output_after(worker, mark),
                   timeout=OUTAGE_S, what="the clock finding Redis away")
        redis.start()
        restarted = len(worker.output())
        wait_until(lambda: messages_to(mock_wx, person.openid, 2), timeout=OUTAGE_S,
                   what="the sign-up's notice after Redis came back empty")
        wait_until(lambda: sweep_ran(worker, restarted, "checkin-sweep_no_shows"),
                   timeout=OUTAGE_S, what="the no-show sweep running again")
        assert worker.running


# The worker with the points expiry broken (patched before the tasks import it).
BROKEN_EXPIRY = ["-c", "import sys; import backend.points.expiry as expiry\n"
                       "def kaput(): raise RuntimeError('expiry kaput')\n"
                       "expiry.expire_due_points = kaput\n"
                       "sys.argv = ['flask', '--app', 'backend', 'worker']\n"
                       "from flask.cli import main; main()"]


def test_a_raising_sweep_stops_neither_the_others_nor_itself(app, make, world, mock_wx,
                                                            rq_workers):
    person = world.resident_a
    subscribe(make, mock_wx, person)
    worker = rq_workers(argv=BROKEN_EXPIRY)

    def failed_slots() -> set[str]:
        return set(re.findall(r"job (sweep-points-expire_points-\d+): exception raised",
                              worker.output()))

    wait_until(lambda: len(failed_slots()) >= 2, timeout=OUTAGE_S,
               what="the broken sweep failing in two slots")
    assert "expiry kaput" in worker.output()
    mark = len(worker.output())
    unrelayed_notice(app, person.id)
    wait_until(lambda: messages_to(mock_wx, person.openid, 1), timeout=OUTAGE_S,
               what="the drain sending beside the broken sweep")
    wait_until(lambda: sweep_ran(worker, mark, "checkin-sweep_no_shows"), timeout=OUTAGE_S,
               what="another sweep running")
    assert worker.running
