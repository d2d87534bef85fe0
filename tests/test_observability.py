"""Watching it run (issue #19): /readyz, /metrics (also summed across two real gunicorn
workers), the JSON request log line and the request id carried into the worker's job."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from flask_migrate import upgrade
from prometheus_client.parser import text_string_to_metric_families

from backend import jobs, schedule
from backend.cli import SessionPerJobWorker
from backend.notify.models import NotificationStatus
from scripts.processes import Process, free_port, http_ok
from tests.conftest import make_app
from tests.process_support import worker_env
from tests.test_notify_worker import sign_up, status_of, wait_until

Samples = dict[tuple[str, frozenset], float]


def samples(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def requests_to(found: Samples, endpoint: str, status: str = "200", method: str = "GET"):
    return value(found, "linli_http_requests_total", method=method, endpoint=endpoint,
                 status=status)


def json_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        start = line.find("{")
        if start < 0:
            continue
        try:
            lines.append(json.loads(line[start:]))
        except ValueError:
            continue
    return lines


# --- /readyz ------------------------------------------------------------------------------


def test_readyz_answers_200_with_every_check_when_all_pass(client):
    response = client.get("/readyz")  # no login: a load balancer asks
    assert response.status_code == 200, response.json
    assert response.json["status"] == "ready"
    assert set(response.json["checks"]) == {"database", "redis", "migrations"}
    assert all(check["ok"] and check["duration_ms"] >= 0
               for check in response.json["checks"].values())


def test_readyz_is_503_when_redis_is_away(database_url, mock_wx):
    dead = make_app(database_url, f"redis://127.0.0.1:{free_port()}/0", mock_wx)
    response = dead.test_client().get("/readyz")
    assert response.status_code == 503
    checks = response.json["checks"]
    assert response.json["status"] == "unavailable"
    assert checks["redis"]["ok"] is False and "onnect" in checks["redis"]["error"]
    assert checks["database"]["ok"] and checks["migrations"]["ok"]


def test_readyz_is_503_when_the_database_is_away(redis_url, mock_wx):
    dead = make_app(f"postgresql+psycopg://linli@127.0.0.1:{free_port()}/linli", redis_url,
                    mock_wx)
    response = dead.test_client().get("/readyz")
    assert response.status_code == 503
    checks = response.json["checks"]
    assert checks["database"]["ok"] is False and checks["migrations"]["ok"] is False
    assert checks["redis"]["ok"] is True


def test_readyz_is_503_when_the_database_is_behind_the_migrations(tmp_path, redis_url,
                                                                  mock_wx):
    behind = make_app(f"sqlite:///{tmp_path / 'behind.db'}", redis_url, mock_wx)
    with behind.app_context():
        upgrade(revision="0011_street_settings")
    response = behind.test_client().get("/readyz")
    assert response.status_code == 503
    migrations = response.json["checks"]["migrations"]
    assert migrations["ok"] is False
    assert "0011_street_settings" in migrations["error"] and "0012" in migrations["error"]
    assert response.json["checks"]["database"]["ok"] is True
    with behind.app_context():
        upgrade()
    assert behind.test_client().get("/readyz").status_code == 200


# --- /metrics -----------------------------------------------------------------------------


def scrape(client, **kwargs) -> Samples:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.data[:500]
    assert response.content_type.startswith("text/plain")
    return samples(response.get_data(as_text=True))


def test_metrics_count_requests_by_endpoint_and_status(client):
    before = scrape(client)
    client.get("/healthz")
    client.get("/healthz")
    client.get("/api/v1/me")  # refused by the login check: still counted, as a 401
    client.get("/no/such/page/12345")  # unknown paths share one label
    after = scrape(client)
    assert requests_to(after, "healthz") - requests_to(before, "healthz") == 2
    assert requests_to(after, "auth.me", "401") - requests_to(before, "auth.me", "401") == 1
    assert (requests_to(after, "unmatched", "404")
            - requests_to(before, "unmatched", "404")) == 1
    assert not any("12345" in str(labels) for _name, labels in after)
    count = ("linli_http_request_duration_seconds_count",
             frozenset({"method": "GET", "endpoint": "healthz"}.items()))
    assert after[count] - before.get(count, 0) == 2


def test_metrics_are_for_loopback_or_the_token(app, database_url, redis_url, mock_wx):
    client = app.test_client()
    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 403 and remote.json["error"]["code"] == "forbidden"
    # Behind nginx every client's peer address is loopback: a forwarded request is refused.
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403
    guarded = make_app(database_url, redis_url, mock_wx, METRICS_TOKEN="s3cret-scrape-token")
    guarded_client = guarded.test_client()
    assert guarded_client.get("/metrics").status_code == 403
    assert guarded_client.get("/metrics", headers={
        "Authorization": "Bearer wrong"}).status_code == 403
    scrape(guarded_client, headers={"Authorization": "Bearer s3cret-scrape-token"},
           environ_base={"REMOTE_ADDR": "203.0.113.9"})


def test_scrape_time_gauges_read_the_outbox_and_the_queues(app, client, make, world, mock_wx):
    before = scrape(client)
    assert value(before, "linli_outbox_notifications", status="pending") == 0
    sign_up(make, world, world.resident_a)  # a notice: pending, handed to RQ's queue
    after = scrape(client)
    assert value(after, "linli_outbox_notifications", status="pending") == 1
    assert value(after, "linli_outbox_notifications", status="failed") == 0
    assert value(after, "linli_rq_queue_depth", queue=jobs.QUEUE_NAME) == 1
    assert value(after, "linli_rq_queue_depth", queue=jobs.PRIORITY_QUEUE_NAME) == 0
    assert value(after, "linli_scrape_source_up", source="linli_outbox_notifications") == 1


def test_a_periodic_jobs_success_is_stamped_for_the_scrape(app, client):
    started = time.time()
    with app.app_context():
        booked = schedule.book_due()
        assert "notify-drain_outbox" in booked
        high = jobs.priority_queue()
        SessionPerJobWorker([high], connection=high.connection).work(burst=True)
    found = scrape(client)
    stamped = value(found, "linli_periodic_last_success_timestamp_seconds",
                    job="notify-drain_outbox")
    assert started <= stamped <= time.time()
    assert value(found, "linli_periodic_interval_seconds", job="notify-drain_outbox") == float(
        app.config["OUTBOX_DRAIN_INTERVAL_S"])


def test_scrape_survives_redis_away(database_url, mock_wx):
    dead = make_app(database_url, f"redis://127.0.0.1:{free_port()}/0", mock_wx)
    found = scrape(dead.test_client())
    assert value(found, "linli_scrape_source_up", source="linli_rq_queue_depth") == 0
    assert value(found, "linli_scrape_source_up", source="linli_outbox_notifications") == 1


# --- logs and request ids -----------------------------------------------------------------


def test_one_json_line_per_request_with_the_callers_request_id(
        database_url, redis_url, mock_wx, make, world, capsys):
    logged = make_app(database_url, redis_url, mock_wx, LOG_FORMAT="json")
    client = logged.test_client()
    capsys.readouterr()
    response = client.get("/api/v1/me", headers={
        **world.resident_a.headers, "X-Request-Id": "req-abc.123_X"})
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "req-abc.123_X"
    lines = [line for line in json_lines(capsys.readouterr().err)
             if line.get("logger") == "linli.request"]
    assert len(lines) == 1, lines
    line = lines[0]
    assert line["request_id"] == "req-abc.123_X"
    assert (line["method"], line["endpoint"], line["path"], line["status"]) == (
        "GET", "auth.me", "/api/v1/me", 200)
    assert line["user_id"] == world.resident_a.id
    assert line["remote_addr"] == "127.0.0.1" and line["duration_ms"] >= 0


@pytest.mark.parametrize("given", ["has spaces", "x" * 65, "quote\"d", "新"])
def test_an_unsafe_request_id_is_replaced(client, given):
    response = client.get("/healthz", headers={"X-Request-Id": given})
    echoed = response.headers["X-Request-Id"]
    assert echoed != given and len(echoed) == 32 and echoed.isalnum()


def test_the_request_id_reaches_the_workers_log_for_the_notice(app, make, world, mock_wx,
                                                               rq_workers):
    worker = rq_workers(LOG_FORMAT="json")
    aid = make.activity(world.team_a)
    response = make.call("POST", f"/api/v1/activities/{aid}/signups", world.resident_a,
                         headers={"X-Request-Id": "signup-req-42"})
    assert response.status_code == 201
    wait_until(lambda: status_of(app, world.resident_a.id)() == NotificationStatus.INBOX_ONLY,
               what="the notice handled by the worker")

    def job_lines() -> list[dict]:
        return [line for line in json_lines(worker.output())
                if line.get("logger", "").startswith("backend.")
                and "send_notification" in line.get("message", "")]

    lines = wait_until(job_lines, what="the worker's line for the job")
    assert {line["request_id"] for line in lines} == {"signup-req-42"}


# --- two gunicorn workers, one count ------------------------------------------------------


def test_metrics_sum_across_two_gunicorn_workers(app, redis_url, mock_wx, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**worker_env(app, redis_url, mock_wx, LOG_FORMAT="json"),
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus")}
    server = Process("gunicorn", [sys.executable, "-m", "gunicorn", "-c",
                                  "deploy/gunicorn.conf.py", "-w", "2", "-b",
                                  f"127.0.0.1:{port}"],
                     env=env, log_path=tmp_path / "gunicorn.log", ready=http_ok(f"{base}/healthz"))
    with server:
        before = samples(requests.get(f"{base}/metrics", timeout=10).text)
        sent, pids = 0, set()
        with ThreadPoolExecutor(max_workers=6) as pool:
            while len(pids) < 2 and sent < 600:
                answers = list(pool.map(lambda _: requests.get(f"{base}/healthz", timeout=10),
                                        range(30)))
                assert all(answer.status_code == 200 for answer in answers)
                sent += len(answers)
                pids = {line["pid"] for line in json_lines(server.output())
                        if line.get("endpoint") == "healthz"}
        assert len(pids) == 2, "both workers should have answered"
        counted = [requests_to(samples(requests.get(f"{base}/metrics", timeout=10).text),
                               "healthz") for _ in range(4)]  # whichever worker answers
    assert {count - requests_to(before, "healthz") for count in counted} == {sent}
    assert os.listdir(tmp_path / "prometheus")  # the workers' metric files


def test_readyz_answers_on_time_when_a_registered_check_hangs(database_url, redis_url,
                                                             mock_wx):
    from backend.common import observability

    slow = make_app(database_url, redis_url, mock_wx, READYZ_TIMEOUT_S=0.5)
    release = threading.Event()
    observability.register_ready_check(slow, "replica", lambda: release.wait(10))
    started = time.monotonic()
    response = slow.test_client().get("/readyz")
    release.set()
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert response.json["checks"]["replica"] == {
        "ok": False, "error": "timed out after 0.5 s", "duration_ms": 500.0}
    assert response.json["checks"]["database"]["ok"] and response.json["checks"]["redis"]["ok"]


def test_the_readyz_timeout_setting_is_checked():
    from backend.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="LINLI_READYZ_TIMEOUT_S"):
        load_settings({"LINLI_ENV": "test", "READYZ_TIMEOUT_S": 0})
    with pytest.raises(ConfigError, match="LINLI_LOG_FORMAT"):
        load_settings({"LINLI_ENV": "test", "LOG_FORMAT": "xml"})
