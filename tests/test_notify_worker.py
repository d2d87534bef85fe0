"""Notifications end to end: API → outbox → real Redis → real RQ worker process → mock
WeChat platform (SPEC §9). Workers are separate processes, stopped (or killed) by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import pytest
import requests

from backend.extensions import db
from backend.notify.models import Notification, NotificationStatus
from tests.conftest import make_app

SIGNUP_TEMPLATE = "tmpl-signup-confirmed"


def wait_until(predicate: Callable[[], object], timeout: float = 30, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what or predicate}")


class WorkerProcess:
    def __init__(self, app, redis_url: str, wechat_base: str) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LINLI_")},
            "LINLI_ENV": "test",
            "LINLI_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "LINLI_REDIS_URL": redis_url,
            "LINLI_WECHAT_API_BASE": wechat_base,
            "LINLI_NOTIFY_RETRY_INTERVALS": "1,1,1",
            "LINLI_NOTIFY_SEND_LEASE_S": "2",
            "LINLI_OUTBOX_DRAIN_INTERVAL_S": "1",
            "LINLI_OUTBOX_SETTLE_S": "0",
            "LINLI_QUIET_HOURS": "off",
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (read and closed at teardown)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "backend", "worker"], env=self.env,
            stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """SIGKILL: the machine dies, worker, scheduler and the work horse mid-job with it
        (RQ runs the horse in its own session, so it must be found by parent pid).
        SIGTERM: RQ's warm shutdown, which lets the horse finish."""
        if not self.process or self.process.poll() is not None:
            return
        main = self.process.pid
        for pid in ([main, *_children(main)] if sig == signal.SIGKILL else [main]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as stat:
                if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
    return found


@pytest.fixture
def workers(app, redis_url, mock_wx):
    started: list[WorkerProcess] = []

    def start(redis: str = redis_url) -> WorkerProcess:
        started.append(WorkerProcess(app, redis, mock_wx).start())
        return started[-1]

    yield start
    for worker in started:
        worker.kill(signal.SIGTERM)
        lines = [line for line in worker.output().splitlines()
                 if "sweep-" not in line]
        print(f"--- worker {worker.process.pid} ---", *lines[-60:], sep="\n")
        worker.log.close()


def messages(mock_wx: str, openid: str) -> list[dict]:
    return requests.get(f"{mock_wx}/_mock/messages", params={"openid": openid},
                        timeout=5).json()["items"]


def subscribe(make, mock_wx, person, times: int = 1, at_wechat: bool = True) -> None:
    # The platform knows every openid that ever logged in.
    requests.post(f"{mock_wx}/_mock/login-code", json={"openid": person.openid}, timeout=5)
    for _ in range(times):
        if at_wechat:
            requests.post(f"{mock_wx}/_mock/subscribe", timeout=5,
                          json={"openid": person.openid, "template_id": SIGNUP_TEMPLATE})
        response = make.call("POST", "/api/v1/me/subscriptions", person,
                             json={"template_ids": [SIGNUP_TEMPLATE]})
        assert response.status_code == 201


def notice_of(app, user_id: int) -> Notification | None:
    with app.app_context():
        notice = db.session.query(Notification).filter_by(
            user_id=user_id, template_key="signup_confirmed").one_or_none()
        db.session.expunge_all()
        return notice


def status_of(app, user_id):
    def current():
        notice = notice_of(app, user_id)
        return notice.status if notice else None
    return current


def wait_for_status(app, user_id, status):
    """The worker records the outcome just after WeChat answered: wait for that, too."""
    current = status_of(app, user_id)
    wait_until(lambda: current() == status, what=f"notice of user {user_id} {status}")


def sign_up(make, world, person):
    aid = make.activity(world.team_a)
    assert make.call("POST", f"/api/v1/activities/{aid}/signups", person).status_code == 201
    return aid


def test_granted_notice_reaches_wechat_once(app, make, world, mock_wx, workers):
    subscribe(make, mock_wx, world.resident_a)
    workers()
    sign_up(make, world, world.resident_a)
    wait_until(lambda: messages(mock_wx, world.resident_a.openid), what="the message")
    wait_for_status(app, world.resident_a.id, NotificationStatus.SENT)
    sent = messages(mock_wx, world.resident_a.openid)
    assert len(sent) == 1 and sent[0]["template_id"] == SIGNUP_TEMPLATE
    assert sent[0]["page"].startswith("pages/activity/detail?id=")
    # A duplicated job (e.g. a retry racing the first run) sends nothing more.
    from backend.notify.tasks import enqueue_send

    with app.app_context():
        enqueue_send(notice_of(app, world.resident_a.id).id)
    time.sleep(2)
    assert len(messages(mock_wx, world.resident_a.openid)) == 1
    grants = make.call("GET", "/api/v1/me/subscriptions", world.resident_a).json["items"]
    assert {g["key"]: g["available"] for g in grants}["signup_confirmed"] == 0


def test_without_a_grant_the_notice_stays_in_the_inbox(app, make, world, mock_wx, workers):
    workers()
    sign_up(make, world, world.resident_a)
    assert wait_until(lambda: status_of(app, world.resident_a.id)() ==
                      NotificationStatus.INBOX_ONLY, what="inbox_only")
    assert messages(mock_wx, world.resident_a.openid) == []
    inbox = make.call("GET", "/api/v1/me/notifications", world.resident_a).json
    assert inbox["total"] == 1


def test_user_refused_lands_in_inbox_without_retrying(app, make, world, mock_wx, workers):
    subscribe(make, mock_wx, world.resident_a, at_wechat=False)  # WeChat will say 43101
    workers()
    sign_up(make, world, world.resident_a)
    wait_until(lambda: status_of(app, world.resident_a.id)() == NotificationStatus.INBOX_ONLY)
    time.sleep(2.5)  # longer than a retry interval
    calls = requests.get(f"{mock_wx}/_mock/stats", timeout=5).json()["calls"]
    assert calls.get("/cgi-bin/message/subscribe/send") == 1
    notice = notice_of(app, world.resident_a.id)
    assert notice.attempts == 1 and notice.last_error.startswith("43101")


@pytest.mark.parametrize("errcode", [45011, -1])
def test_busy_platform_is_retried_with_back_off(app, make, world, mock_wx, workers, errcode):
    subscribe(make, mock_wx, world.resident_a)
    requests.post(f"{mock_wx}/_mock/faults", timeout=5, json={
        "path": "/cgi-bin/message/subscribe/send", "errcode": errcode, "times": 2})
    workers()
    sign_up(make, world, world.resident_a)
    assert wait_until(lambda: status_of(app, world.resident_a.id)() == NotificationStatus.SENT,
                      what="sent after retries")
    assert len(messages(mock_wx, world.resident_a.openid)) == 1
    assert notice_of(app, world.resident_a.id).attempts == 3


def test_permanent_failure_is_listed_and_staff_retry_sends(app, make, world, mock_wx, workers):
    subscribe(make, mock_wx, world.resident_a)
    requests.post(f"{mock_wx}/_mock/faults", timeout=5, json={
        "path": "/cgi-bin/message/subscribe/send", "errcode": 40037, "times": 1})
    workers()
    sign_up(make, world, world.resident_a)
    wait_until(lambda: status_of(app, world.resident_a.id)() == NotificationStatus.FAILED)
    failed = make.call("GET", f"/api/v1/communities/{world.a}/notifications/failed",
                       world.staff_a).json
    assert failed["total"] == 1 and failed["items"][0]["last_error"].startswith("40037")
    assert make.call("GET", f"/api/v1/communities/{world.a}/notifications/failed",
                     world.staff_b).status_code == 403
    notice_id = failed["items"][0]["id"]
    assert make.call("POST", f"/api/v1/notifications/{notice_id}/retry",
                     world.staff_b).status_code == 404
    retried = make.call("POST", f"/api/v1/notifications/{notice_id}/retry", world.staff_a)
    # The running worker may claim (or even send) it before the answer is written.
    assert retried.status_code == 200 and retried.json["status"] in ("pending", "sending", "sent")
    wait_until(lambda: status_of(app, world.resident_a.id)() == NotificationStatus.SENT)
    assert len(messages(mock_wx, world.resident_a.openid)) == 1
    again = make.call("POST", f"/api/v1/notifications/{notice_id}/retry", world.staff_a)
    assert again.status_code == 409 and again.json["error"]["code"] == "notification_not_failed"


def test_worker_killed_mid_send_never_sends_twice(app, make, world, mock_wx, workers):
    subscribe(make, mock_wx, world.resident_a, times=2)
    requests.post(f"{mock_wx}/_mock/faults", timeout=5, json={
        "path": "/cgi-bin/message/subscribe/send", "delay_s": 3, "times": 1})
    first = workers()
    sign_up(make, world, world.resident_a)
    wait_until(lambda: status_of(app, world.resident_a.id)() == NotificationStatus.SENDING,
               what="the claim")
    # Kill only once WeChat has the request in hand (the mock answers it 3 s later).
    wait_until(lambda: requests.get(f"{mock_wx}/_mock/stats", timeout=5).json()["calls"].get(
        "/cgi-bin/message/subscribe/send"), what="the send to reach WeChat")
    first.kill(signal.SIGKILL)
    wait_until(lambda: messages(mock_wx, world.resident_a.openid), what="the slow send")
    workers()  # a new worker finds the interrupted send and does not repeat it
    assert wait_until(lambda: status_of(app, world.resident_a.id)() ==
                      NotificationStatus.FAILED, what="interrupted send flagged")
    time.sleep(2)
    assert len(messages(mock_wx, world.resident_a.openid)) == 1
    assert "未知" in notice_of(app, world.resident_a.id).last_error


def test_redis_down_loses_nothing(app, make, world, mock_wx, workers):
    from scripts.services import RedisServer

    with RedisServer() as redis:
        own = make_app(app.config["SQLALCHEMY_DATABASE_URI"], redis.url(0), mock_wx,
                       QUIET_HOURS="off")
        people = [make.resident(world.a, f"居民{i}") for i in range(3)]
        aid = make.activity(world.team_a)
        client = own.test_client()
        for person in people:
            requests.post(f"{mock_wx}/_mock/subscribe", timeout=5,
                          json={"openid": person.openid, "template_id": SIGNUP_TEMPLATE})
            assert client.post("/api/v1/me/subscriptions", headers=person.headers,
                               json={"template_ids": [SIGNUP_TEMPLATE]}).status_code == 201
        redis.stop_keep_port()
        for person in people:
            response = client.post(f"/api/v1/activities/{aid}/signups", headers=person.headers)
            assert response.status_code == 201
        assert all(notice_of(app, p.id).queued_at is None for p in people)
        redis.start()
        workers(redis.url(0))
        for person in people:
            wait_until(lambda p=person: messages(mock_wx, p.openid), what="the backlog")
            wait_for_status(app, person.id, NotificationStatus.SENT)
