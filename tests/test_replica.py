"""Reports on a read replica (issue #19): with a real primary and a streaming standby, the
reports read one snapshot on the standby and say so; a standby that is down or lags past
``LINLI_REPLICA_MAX_LAG_S`` leaves them to the primary (and they say that); nothing ever
writes to the standby. Without a replica setting the reports are what they always were."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from backend.common.clock import LOCAL_TZ, now
from backend.common.replica import report_reads
from backend.common.transactions import unit_of_work
from backend.communities.models import Community, TeamCategory
from backend.config import ConfigError, load_settings
from backend.extensions import db
from scripts.services import PostgresReplica, PostgresServer
from tests.conftest import make_app, wipe
from tests.factories import Factory

DATABASE = "linli_replica_test"
REPORT_PATHS = {
    "reconciliation": "/api/v1/communities/{a}/points/reconciliation",
    "ledger.csv": "/api/v1/communities/{a}/points/ledger.csv",
    "ledger.xlsx": "/api/v1/communities/{a}/points/ledger.xlsx",
    "assessment": "/api/v1/communities/{a}/teams/evaluation",
    "assessment.xlsx": "/api/v1/communities/{a}/teams/evaluation.xlsx",
    "overview": "/api/v1/street/overview",
    "subsidies": "/api/v1/teams/{parking}/subsidies",
    "subsidies.csv": "/api/v1/teams/{parking}/subsidies.csv",
}


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[PostgresServer, PostgresReplica]]:
    primary = PostgresServer().start()
    try:
        primary.create_database(DATABASE)
        replica = PostgresReplica(primary).start()
        try:
            yield primary, replica
        finally:
            replica.stop()
    finally:
        primary.stop()


@pytest.fixture(scope="module")
def replica_app(pair, redis_server_url, wechat_mock):
    primary, replica = pair
    app = make_app(primary.url(DATABASE), redis_server_url, wechat_mock,
                   SQLALCHEMY_REPLICA_URI=replica.url(DATABASE), REPLICA_MAX_LAG_S=30)
    with app.app_context():
        upgrade()
    return app


@pytest.fixture
def reports(pair, replica_app) -> Iterator[Factory]:
    """A fresh world on the primary, the standby caught up and replaying; put back after."""
    primary, replica = pair
    replica_app.config["REPLICA_MAX_LAG_S"] = 30
    make = Factory(replica_app, replica_app.test_client())
    make.w = make.world()
    make.w.staff_a2 = make.staff(make.w.a)
    make.w.parking = make.team(make.w.a, TeamCategory.PARKING)
    replica.wait_caught_up()
    yield make
    if not replica.running:
        replica.start()
    with replica.connect() as conn:
        conn.execute("SELECT pg_wal_replay_resume()")
    wipe(replica_app)
    replica.wait_caught_up()


def get(make: Factory, name: str):
    w = make.w
    # Every report's period defaults to this month (this year for the assessment).
    query = {"month": f"{now().astimezone(LOCAL_TZ):%Y-%m}"} if "subsidies" in name else {}
    who = w.admin if name in ("overview", "assessment", "assessment.xlsx") else w.staff_a
    path = REPORT_PATHS[name].format(a=w.a, parking=w.parking)
    response = make.call("GET", path, who, query_string=query)
    response.get_data()  # to its end: a stream left half-read keeps its request's context
    return response


def adjust(make: Factory, amount: int) -> None:
    """A manual adjustment on the primary: requested by one staff member, applied by another."""
    w = make.w
    asked = make.call("POST", f"/api/v1/communities/{w.a}/points/adjustments", w.staff_a,
                      json={"user_id": w.resident_a.id, "amount": amount,
                            "reason": "补录上月义诊时长"})
    assert asked.status_code == 201, asked.json
    applied = make.call("POST", f"/api/v1/points/adjustments/{asked.json['id']}/approve",
                        w.staff_a2)
    assert applied.status_code == 200, applied.json


def until(condition, timeout_s: float = 15.0):
    """Poll ``condition`` until it returns something truthy (and return that)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


@pytest.mark.postgres_only
def test_a_write_on_the_primary_shows_in_every_report_the_replica_serves(pair, reports):
    _, replica = pair
    adjust(reports, 7)
    replica.wait_caught_up()

    report = get(reports, "reconciliation")

    assert report.status_code == 200
    assert report.json["adjusted"] == 7 and report.json["closing_total"] == 7
    assert report.json["served_by"]["database"] == "replica"
    assert report.json["served_by"]["fallback"] is None
    assert 0 <= report.json["served_by"]["lag_s"] <= 30
    assert report.headers["X-Linli-Read-From"] == "replica"
    assert float(report.headers["X-Linli-Replica-Lag"]) == report.json["served_by"]["lag_s"]
    ledger = get(reports, "ledger.csv")
    assert ledger.status_code == 200 and ledger.headers["X-Linli-Read-From"] == "replica"
    assert len(ledger.text.strip().splitlines()) == 2  # the header and the adjustment
    for name in ("ledger.xlsx", "assessment", "assessment.xlsx", "overview", "subsidies",
                 "subsidies.csv"):
        response = get(reports, name)
        assert response.status_code == 200, (name, response.json)
        assert response.headers["X-Linli-Read-From"] == "replica", name
        if response.is_json:
            assert response.json["served_by"]["database"] == "replica", name


@pytest.mark.postgres_only
def test_a_lagging_replica_serves_its_snapshot_until_the_bound_then_the_primary(pair, reports):
    _, replica = pair
    adjust(reports, 5)
    replica.wait_caught_up()
    with replica.connect() as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    adjust(reports, 3)  # on the primary only: the standby replays nothing now

    within = get(reports, "reconciliation").json  # 30 s: the standby is recent enough
    assert within["served_by"]["database"] == "replica"
    assert within["adjusted"] == 5  # its snapshot, taken before the second adjustment
    assert within["served_by"]["lag_s"] > 0

    reports.app.config["REPLICA_MAX_LAG_S"] = 0.2
    beyond = until(lambda: (r := get(reports, "reconciliation")).json["served_by"][
        "database"] == "primary" and r)

    assert beyond, "a replica paused past the bound still served the report"
    assert beyond.status_code == 200 and beyond.json["adjusted"] == 8
    assert beyond.json["served_by"]["fallback"] == "replica_lagging"
    assert beyond.json["served_by"]["lag_s"] > 0.2
    assert beyond.headers["X-Linli-Read-From"] == "primary"
    assert beyond.headers["X-Linli-Replica-Fallback"] == "replica_lagging"


@pytest.mark.postgres_only
def test_a_stopped_replica_leaves_reports_to_the_primary_and_writes_carry_on(pair, reports):
    _, replica = pair
    replica.pause()  # an outage: the process is gone, its port refuses connections

    adjust(reports, 4)  # writes never needed the standby
    for name in ("reconciliation", "ledger.csv", "overview", "subsidies"):
        response = get(reports, name)
        assert response.status_code == 200, (name, response.text)
        assert response.headers["X-Linli-Read-From"] == "primary", name
        assert response.headers["X-Linli-Replica-Fallback"] == "replica_unreachable", name
    report = get(reports, "reconciliation").json
    assert report["adjusted"] == 4
    assert report["served_by"] == {"database": "primary", "lag_s": None,
                                   "fallback": "replica_unreachable"}

    replica.start()  # back on its port, caught up through its slot
    replica.wait_caught_up()
    back = get(reports, "reconciliation").json
    assert back["served_by"]["database"] == "replica" and back["adjusted"] == 4


@report_reads
def _report_that_writes() -> None:
    db.session.execute(text("UPDATE communities SET name = 'x'"))


@report_reads
def _report_that_reads() -> tuple[str, int]:
    return (db.session.execute(text("SHOW port")).scalar_one(),
            db.session.execute(text("SELECT count(*) FROM communities")).scalar_one())


@pytest.mark.postgres_only
def test_a_report_is_one_snapshot_even_while_the_replica_replays(pair, reports):
    _, replica = pair
    seen = []

    @report_reads
    def report() -> None:
        seen.append(db.session.execute(text("SELECT count(*) FROM communities")).scalar_one())
        with Session(db.engine) as other:  # a write on the primary the standby replays
            other.add(Community(name="新社区", street="和平街道"))
            other.commit()
        replica.wait_caught_up()
        seen.append(db.session.execute(text("SELECT count(*) FROM communities")).scalar_one())

    with reports.app.test_request_context():
        report()
        assert _report_that_reads() == (str(replica.port), 3)  # the next report sees it
    assert seen == [2, 2]


@pytest.mark.postgres_only
def test_writes_never_go_to_the_replica(pair, reports):
    primary, replica = pair
    with reports.app.test_request_context():
        with pytest.raises(DBAPIError, match="read-only transaction"):
            _report_that_writes()
        # The request's own session is the primary's again, and nothing changed there.
        assert db.session.execute(text("SHOW port")).scalar_one() == str(primary.port)
        assert db.session.execute(text("SELECT count(*) FROM communities WHERE name = 'x'")
                                  ).scalar_one() == 0

    with reports.app.test_request_context():
        assert _report_that_reads() == (str(replica.port), 2)
        # Inside a unit of work that writes, a report reads the primary and sees the write.
        with unit_of_work():
            db.session.add(Community(name="新社区", street="和平街道"))
            db.session.flush()
            assert _report_that_reads() == (str(primary.port), 3)


def test_without_a_replica_the_reports_are_as_they_were(make, world):
    today = now().astimezone(LOCAL_TZ).date()
    report = make.call("GET", f"/api/v1/communities/{world.a}/points/reconciliation",
                       world.staff_a, query_string={"from": today.isoformat(),
                                                    "to": today.isoformat()})
    assert report.status_code == 200 and report.json["closing_total"] == 0
    assert "served_by" not in report.json and "X-Linli-Read-From" not in report.headers


@pytest.mark.parametrize(("overrides", "refused"), [
    ({"SQLALCHEMY_DATABASE_URI": "sqlite:///x.db",
      "SQLALCHEMY_REPLICA_URI": "postgresql+psycopg://r@127.0.0.1/x"}, "needs a PostgreSQL"),
    ({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://p@127.0.0.1/x",
      "SQLALCHEMY_REPLICA_URI": "sqlite:///x.db"}, "must be a PostgreSQL URL"),
    ({"REPLICA_MAX_LAG_S": -1}, "LINLI_REPLICA_MAX_LAG_S"),
    ({"REPLICA_CONNECT_TIMEOUT_S": 0}, "LINLI_REPLICA_CONNECT_TIMEOUT_S"),
])
def test_replica_settings_that_cannot_work_are_refused(overrides, refused):
    with pytest.raises(ConfigError, match=refused):
        load_settings({"LINLI_ENV": "test", **overrides})


@pytest.mark.postgres_only
def test_a_replica_url_that_names_a_primary_is_passed_over(pair, reports, redis_server_url,
                                                          wechat_mock):
    primary, _ = pair
    adjust(reports, 2)
    # A promoted standby, or the primary's URL by mistake: not in recovery, maybe diverged.
    misread = make_app(primary.url(DATABASE), redis_server_url, wechat_mock,
                       SQLALCHEMY_REPLICA_URI=primary.url(DATABASE))
    other = Factory(misread, misread.test_client())
    other.w = reports.w
    try:
        report = get(other, "reconciliation")
    finally:
        misread.extensions["linli_replica"].dispose()
        with misread.app_context():
            db.engine.dispose()
    assert report.status_code == 200 and report.json["adjusted"] == 2
    assert report.json["served_by"]["database"] == "primary"
    assert report.json["served_by"]["fallback"] == "not_a_replica"


def test_the_openapi_description_names_the_report_headers(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    reports = [path for path in paths if path.endswith((
        "/points/reconciliation", "/points/ledger.csv", "/points/ledger.xlsx", "/subsidies",
        "/subsidies.csv", "/subsidies.xlsx", "/teams/evaluation", "/teams/evaluation.xlsx",
        "/street/overview"))]
    assert len(reports) == 9
    for path in reports:
        headers = paths[path]["get"]["responses"]["200"].get("headers", {})
        assert set(headers) == {"X-Linli-Read-From", "X-Linli-Replica-Lag",
                                "X-Linli-Replica-Fallback"}, path


def _replica_lag_samples(client) -> tuple[list[float], float]:
    """The ``linli_replica_lag_seconds`` samples of a scrape and its source's up flag."""
    from prometheus_client.parser import text_string_to_metric_families

    lags, up = [], None
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "linli_replica_lag_seconds":
                lags.append(sample.value)
            if (sample.name == "linli_scrape_source_up"
                    and sample.labels.get("source") == "linli_replica_lag_seconds"):
                up = sample.value
    return lags, up


@pytest.mark.postgres_only
def test_readyz_and_metrics_watch_the_replica_without_taking_the_node_out(pair, reports):
    _, replica = pair
    client = reports.app.test_client()

    healthy = client.get("/readyz")
    assert healthy.status_code == 200 and healthy.json["status"] == "ready", healthy.json
    assert healthy.json["checks"]["replica"]["ok"] is True
    assert healthy.json["checks"]["replica"]["required"] is False
    lags, up = _replica_lag_samples(client)
    assert up == 1 and len(lags) == 1 and 0 <= lags[0] <= 30

    with replica.connect() as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    adjust(reports, 2)  # the standby replays nothing now: it falls behind
    reports.app.config["REPLICA_MAX_LAG_S"] = 0.2
    lagging = until(lambda: (r := client.get("/readyz")).json["status"] == "degraded" and r)
    assert lagging, "a replica paused past the bound still looked ready"
    assert lagging.status_code == 200  # reports fall back: the node still serves
    assert lagging.json["checks"]["replica"]["ok"] is False
    assert "replica_lagging" in lagging.json["checks"]["replica"]["error"]
    assert all(lagging.json["checks"][name]["ok"] for name in ("database", "redis"))
    lags, up = _replica_lag_samples(client)
    assert up == 1 and lags[0] > 0.2

    replica.pause()  # gone: the probe still answers 200, the gauge's source is down
    stopped = client.get("/readyz")
    assert stopped.status_code == 200 and stopped.json["status"] == "degraded"
    assert stopped.json["checks"]["replica"]["ok"] is False
    assert _replica_lag_samples(client) == ([], 0)

    replica.start()
    with replica.connect() as conn:
        conn.execute("SELECT pg_wal_replay_resume()")
    replica.wait_caught_up()
    reports.app.config["REPLICA_MAX_LAG_S"] = 30
    back = client.get("/readyz")
    assert back.status_code == 200 and back.json["status"] == "ready", back.json
