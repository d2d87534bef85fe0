"""Pooled PostgreSQL connections that die while they wait in the pool (a database restart,
a firewall dropping idle connections): idle ones are pinged before use, busy ones are not."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from sqlalchemy.engine import make_url

from backend.common.clock import now
from backend.extensions import db
from tests.checkin_support import personal_code, scan_body
from tests.conftest import make_app

pytestmark = pytest.mark.postgres_only

APPLICATION = "linli-pool-test"
VERIFY = "/api/v1/certificates/verify/NOSU-CHCO-DEXX-XXXX"  # public; looked up: 200, not valid


def _pool_app(database_url, redis_server_url, wechat_mock, ping_after_idle_s):
    return make_app(database_url, redis_server_url, wechat_mock,
                    DATABASE_PING_AFTER_IDLE_S=ping_after_idle_s,
                    SQLALCHEMY_ENGINE_OPTIONS={
                        "pool_size": 1, "max_overflow": 0,
                        "connect_args": {"application_name": APPLICATION}})


def _kill_pooled_connections(database_url: str) -> int:
    """Terminate this test app's server processes, as a restart would."""
    url = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        killed = conn.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s", (APPLICATION,)).fetchone()[0]
    return killed


@pytest.fixture
def pooled(app, database_url, redis_server_url, wechat_mock):
    """Apps of their own, each with a one-connection pool (``app`` has made the schema)."""
    apps = []

    def build(ping_after_idle_s):
        apps.append(_pool_app(database_url, redis_server_url, wechat_mock, ping_after_idle_s))
        return apps[-1].test_client()
    yield build
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def test_an_idle_connection_that_died_is_replaced_before_use(pooled, database_url):
    client = pooled(ping_after_idle_s=0)  # every checkout counts as idle
    assert client.get(VERIFY).status_code == 200
    assert _kill_pooled_connections(database_url) == 1

    answer = client.get(VERIFY)

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["valid"] is False


def test_a_connection_in_recent_use_is_not_pinged_and_a_failure_is_an_envelope(
        pooled, database_url):
    client = pooled(ping_after_idle_s=3600)
    assert client.get(VERIFY).status_code == 200
    assert _kill_pooled_connections(database_url) == 1

    failed = client.get(VERIFY)

    assert failed.status_code == 503
    assert failed.get_json()["error"]["code"] == "unavailable"
    # SQLAlchemy saw the disconnect and replaced the pool's connections: the next one works.
    assert client.get(VERIFY).status_code == 200


def test_a_scan_on_a_connection_that_died_answers_503_and_the_next_scan_works(
        pooled, database_url, app, make, world):
    """Scans run on the session's pooled connection, as every request does: a dropped one is
    an envelope too, and is not given back to the pool."""
    activity = make.activity(world.team_a, starts_at=now() + timedelta(minutes=20))  # door open
    assert make.call("POST", f"/api/v1/activities/{activity}/signups",
                     world.resident_a).status_code == 201
    client = pooled(ping_after_idle_s=3600)

    def scan(direction):
        return client.post(f"/api/v1/activities/{activity}/scans", headers=world.leader_a.headers,
                           json=scan_body(personal_code(app, world.resident_a.id), direction))
    assert scan("in").get_json()["result"] == "ok"
    assert _kill_pooled_connections(database_url) == 1

    failed = scan("out")

    assert failed.status_code == 503
    assert failed.get_json()["error"]["code"] == "unavailable"
    retried = scan("out")
    assert retried.status_code == 200, retried.get_json()
    assert retried.get_json()["result"] == "ok"


def test_a_keyed_scan_needs_one_pooled_connection(pooled, app, make, world):
    """The mini-program sends an Idempotency-Key with every scan: on a one-connection pool
    (no overflow) the scan, its key and its answer still fit, and a replay answers the same."""
    activity = make.activity(world.team_a, starts_at=now() + timedelta(minutes=20))
    assert make.call("POST", f"/api/v1/activities/{activity}/signups",
                     world.resident_a).status_code == 201
    client = pooled(ping_after_idle_s=3600)
    body = scan_body(personal_code(app, world.resident_a.id))

    def scan():
        return client.post(f"/api/v1/activities/{activity}/scans",
                           headers={**world.leader_a.headers, "Idempotency-Key": "tap"},
                           json=body)
    first = scan()
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["result"] == "ok"
    assert scan().get_json() == first.get_json()
