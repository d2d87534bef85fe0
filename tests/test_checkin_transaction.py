"""A scan is one SQLAlchemy transaction on the request's session connection (issue 16): a
write added to the scan use case commits and rolls back with it, on PostgreSQL and SQLite
alike, and ``scan_id`` is the scan endpoints' idempotency key, so an ``Idempotency-Key``
sent along costs no commit of its own."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from backend.checkin import scans, statements
from backend.checkin.models import Attendance, AttendanceStatus, Direction, Scan, fold
from backend.common.audit import AuditEntry, audit
from backend.common.clock import now
from backend.common.idempotency import IdempotencyKey
from backend.errors import ApiError
from backend.extensions import db
from tests.checkin_support import personal_code, poster_code, scan_body


@pytest.fixture
def door(app, make, world):
    """An activity under way (door open) with resident_a and a second resident signed up."""
    activity = make.activity(world.team_a, starts_at=now() + timedelta(minutes=20),
                             self_checkin_allowed=True)
    other = make.resident(world.a, "李四光")
    for person in (world.resident_a, other):
        assert make.call("POST", f"/api/v1/activities/{activity}/signups",
                         person).status_code == 201
    return activity, other


def _count(app, model, **where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).filter_by(**where))


@contextmanager
def counting_commits(app):
    """The COMMITs the engine's connections make while the block runs."""
    commits = []
    with app.app_context():
        engine = db.engine

    def count(_connection):
        commits.append(1)
    event.listen(engine, "commit", count)
    try:
        yield commits
    finally:
        event.remove(engine, "commit", count)


def _scan(make, who, activity, body, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return make.call("POST", f"/api/v1/activities/{activity}/scans", who, json=body,
                     headers=headers)


def _audited_record(monkeypatch):
    """The scan use case with an audit row added after its scan is judged."""
    record = scans.record

    def with_audit(scanner_id, activity, item, *args, **kwargs):
        answer = record(scanner_id, activity, item, *args, **kwargs)
        audit(scanner_id, activity.community_id, "scan.test", f"scan:{item['scan_id']}")
        return answer
    monkeypatch.setattr(scans, "record", with_audit)


def test_a_write_added_to_a_scan_commits_with_it(app, make, world, door, monkeypatch):
    activity, _ = door
    _audited_record(monkeypatch)

    with counting_commits(app) as commits:
        answer = _scan(make, world.leader_a, activity,
                       scan_body(personal_code(app, world.resident_a.id), scan_id="audited"))

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["result"] == "ok"
    assert len(commits) == 1  # the scan, its attendance and the audit row: one transaction
    assert _count(app, AuditEntry, action="scan.test", subject="scan:audited") == 1
    assert _count(app, Scan, scan_id="audited") == 1
    assert _count(app, Attendance, activity_id=activity, user_id=world.resident_a.id) == 1


def test_a_scan_that_fails_after_the_write_rolls_both_back(app, make, world, door,
                                                            monkeypatch):
    activity, _ = door
    record = scans.record

    def audit_then_fail(scanner_id, activity, item, *args, **kwargs):
        audit(scanner_id, activity.community_id, "scan.test", f"scan:{item['scan_id']}")
        record(scanner_id, activity, item, *args, **kwargs)  # writes the attendance and scan
        raise ApiError("scan_test_refusal", "测试", 409)
    monkeypatch.setattr(scans, "record", audit_then_fail)

    answer = _scan(make, world.leader_a, activity,
                   scan_body(personal_code(app, world.resident_a.id), scan_id="doomed"))

    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "scan_test_refusal"
    assert _count(app, AuditEntry, action="scan.test") == 0
    assert _count(app, Scan, scan_id="doomed") == 0
    assert _count(app, Attendance, activity_id=activity) == 0


def test_a_scan_with_an_idempotency_key_makes_no_extra_commit_and_answers_the_same(
        app, make, world, door):
    activity, other = door
    with counting_commits(app) as bare:
        plain = _scan(make, world.leader_a, activity,
                      scan_body(personal_code(app, world.resident_a.id), scan_id="plain"))
    body = scan_body(personal_code(app, other.id), scan_id="keyed")
    with counting_commits(app) as keyed_commits:
        keyed = _scan(make, world.leader_a, activity, body, key="tap-1")
    with counting_commits(app) as replay_commits:
        replayed = _scan(make, world.leader_a, activity, body, key="tap-1")

    assert plain.status_code == keyed.status_code == replayed.status_code == 200
    assert len(bare) == len(keyed_commits) == 1
    assert len(replay_commits) <= 1  # a replay writes nothing new
    first, second = plain.get_json(), keyed.get_json()
    assert first["result"] == second["result"] == "ok"
    assert set(first) == set(second)
    assert set(first["attendance"]) == set(second["attendance"])
    assert replayed.get_json() == second
    assert _count(app, Scan, scan_id="keyed") == 1


def test_a_reused_key_with_another_scan_is_refused_and_records_nothing(app, make, world,
                                                                      door):
    activity, other = door
    first = _scan(make, world.leader_a, activity,
                  scan_body(personal_code(app, world.resident_a.id), scan_id="first"),
                  key="tap-2")
    assert first.status_code == 200

    with counting_commits(app) as commits:
        reused = _scan(make, world.leader_a, activity,
                       scan_body(personal_code(app, other.id), scan_id="second"), key="tap-2")

    assert reused.status_code == 409
    assert reused.get_json()["error"]["code"] == "idempotency_key_reused"
    assert commits == []
    assert _count(app, Scan, scan_id="second") == 0
    assert _count(app, Attendance, activity_id=activity, user_id=other.id) == 0
    # The key stays noted once, for the first scan.
    assert _count(app, IdempotencyKey, user_id=world.leader_a.id, key="tap-2") == 1


def test_a_keyed_batch_and_a_keyed_self_checkin_commit_once(app, make, world, door):
    activity, other = door
    batch = {"scans": [scan_body(personal_code(app, world.resident_a.id), scan_id="b-1"),
                       scan_body(personal_code(app, other.id), scan_id="b-2")]}
    with counting_commits(app) as commits:
        answer = make.call("POST", f"/api/v1/activities/{activity}/scans/batch",
                           world.leader_a, json=batch, headers={"Idempotency-Key": "batch-1"})
    assert answer.status_code == 200, answer.get_json()
    assert [r["result"] for r in answer.get_json()["results"]] == ["ok", "ok"]
    assert len(commits) == 1

    with counting_commits(app) as commits:
        own = make.call("POST", "/api/v1/me/checkins", world.resident_a,
                        json=scan_body(poster_code(app, activity), "out", scan_id="self-1"),
                        headers={"Idempotency-Key": "self-1"})
    assert own.status_code == 200, own.get_json()
    assert own.get_json()["result"] == "ok"
    assert len(commits) == 1


def test_the_model_and_the_scan_path_fold_alike():
    """``Attendance.fold`` and the door's dict values go through the same ``fold``."""
    starts = now().replace(microsecond=0)
    ends, early = starts + timedelta(hours=2), timedelta(minutes=30)
    row = Attendance(**{**Attendance.first_values(activity_id=1, community_id=1, user_id=1),
                        "status": AttendanceStatus.NO_SHOW})
    values = {name: getattr(row, name) for name in (*statements.FOLDED, "corrected_minutes")}
    for direction, at in ((Direction.OUT, starts + timedelta(minutes=90)),
                          (Direction.IN, starts - timedelta(hours=1)),
                          (Direction.OUT, starts + timedelta(minutes=60))):
        row.fold(direction, at, starts, ends, early)
        values = fold(values, direction, at, starts, ends, early)

    assert values == {name: getattr(row, name) for name in values}
    # Entered an hour early (counted from 30 minutes before), left at 90 minutes: no-show
    # undone, 120 minutes.
    assert (row.status, row.minutes) == (AttendanceStatus.OPEN, 120)
    row.status = AttendanceStatus.APPROVED
    row.fold(Direction.OUT, ends, starts, ends, early)
    assert row.minutes == 120  # decided hours stay as they were
