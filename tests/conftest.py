"""Fixtures: the app on SQLite or PostgreSQL (``LINLI_TEST_DATABASE``), a real Redis,
the mock WeChat platform over real HTTP, and small factories for people and places."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis as redis_lib
import requests
from sqlalchemy import text
from werkzeug.serving import make_server

from backend import create_app
from backend.common.clock import now
from backend.extensions import db
from miniprogram_mock.wx_server import start_in_thread
from tests.browser import browser, playwright_driver, site  # noqa: F401 (mini-program pages)
from tests.factories import Factory
from tests.process_support import rq_workers  # noqa: F401 (real RQ worker processes)

ADMIN_OPENID = "o-admin-street"
ON_POSTGRES = os.environ.get("LINLI_TEST_DATABASE") == "postgresql"


def pytest_collection_modifyitems(config, items):
    if ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: run through scripts/test")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    url = os.environ.get("LINLI_TEST_REDIS_URL")
    if url:
        yield url
        return
    from scripts.services import RedisServer

    with RedisServer() as server:
        yield server.url(0)


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    redis_lib.Redis.from_url(redis_server_url).flushdb()
    return redis_server_url


@pytest.fixture(scope="session")
def wechat_mock() -> Iterator[str]:
    base_url, stop = start_in_thread()
    yield base_url
    stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if ON_POSTGRES:
        return os.environ["LINLI_TEST_DATABASE_URL"]
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'linli-test.db'}"


def make_app(database_url: str, redis_url: str, wechat_base: str, **extra):
    return create_app({
        "LINLI_ENV": "test",
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "_TEST_REDIS_URL": redis_url,
        "LOGIN_RATE_PER_MIN": 100_000,  # tests log in far faster than people do
        "LOGIN_USER_RATE_PER_MIN": 100_000,
        "QUIET_HOURS": "off",  # the suite runs at any hour; quiet hours have their own tests
        "NOTIFY_RETRY_INTERVALS": [1, 1, 1],  # the same back-off as the test workers
        "WECHAT_API_BASE": wechat_base,
        "BOOTSTRAP_ADMIN_OPENIDS": [ADMIN_OPENID],
        **extra,
    })


@pytest.fixture(scope="session")
def app(database_url, redis_server_url, wechat_mock):
    from flask_migrate import upgrade

    app = make_app(database_url, redis_server_url, wechat_mock,
                   SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 40, "max_overflow": 40}
                   if ON_POSTGRES else {})
    with app.app_context():
        if ON_POSTGRES:
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade()  # the schema comes from the migrations, as in a deployment
    return app


@pytest.fixture(autouse=True)
def _clean_database(request):
    yield
    if "app" not in request.fixturenames:
        return
    wipe(request.getfixturevalue("app"))


def wipe(app) -> None:
    """Empty every table (ids start again at 1)."""
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        if ON_POSTGRES:
            db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make(app, client) -> Factory:
    return Factory(app, client)


@pytest.fixture
def world(make):
    """Two communities, each with staff, a team with a leader, and residents."""
    return make.world()


@pytest.fixture
def mock_wx(wechat_mock) -> Iterator[str]:
    requests.post(f"{wechat_mock}/_mock/reset", timeout=5)
    yield wechat_mock


@pytest.fixture
def soon():
    """A helper for activity times relative to the real clock."""
    def at(hours: float = 0, days: float = 0):
        return (now() + timedelta(hours=hours, days=days)).isoformat()
    return at


@pytest.fixture
def served(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/v1"
    server.shutdown()
    thread.join()


def all_at_once(calls):
    """Run every call in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))
