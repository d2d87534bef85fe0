"""Nothing grows without bound: idempotency answers and spent subscription grants are swept
by scheduled jobs (each sweep on its own, safe to run twice); unspent grants are capped."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from backend.activities.models import Activity
from backend.checkin.models import Attendance, AttendanceStatus, Scan
from backend.common import idempotency
from backend.common.clock import now
from backend.common.idempotency import IdempotencyKey
from backend.extensions import db
from backend.notify import services as notify_services
from backend.notify.models import SubscriptionGrant
from backend.schedule import run_all
from tests.checkin_support import personal_code, scan

KEYS, GRANTS = "schedule-sweep_idempotency_keys", "notify-sweep_grants"


def _post_with_key(make, world, key: str):
    return make.call("POST", "/api/v1/communities", world.admin,
                     json={"name": f"社区{key}", "street": "和平街道"},
                     headers={"Idempotency-Key": key})


def _answered_long_ago(app, make, world, key: str) -> None:
    assert _post_with_key(make, world, key).status_code == 201
    with app.app_context():
        db.session.query(IdempotencyKey).filter_by(key=key).one().created_at = (
            now() - timedelta(hours=25))
        db.session.commit()


def test_old_idempotency_answers_are_swept_and_recent_ones_replayed(app, make, world,
                                                                   redis_url):
    _answered_long_ago(app, make, world, "old")
    recent = _post_with_key(make, world, "recent")
    with app.app_context():
        report = run_all()
        assert report[KEYS] == 1
        assert [row.key for row in db.session.query(IdempotencyKey)] == ["recent"]
        assert run_all()[KEYS] == 0
    assert _post_with_key(make, world, "recent").json == recent.json  # still a replay


def test_spent_grants_are_swept_and_unspent_ones_kept(app, world, redis_url):
    with app.app_context():
        long_ago = now() - timedelta(days=31)
        db.session.add_all([
            SubscriptionGrant(user_id=world.resident_a.id, template_key="gift_ready",
                              used_at=long_ago),
            SubscriptionGrant(user_id=world.resident_a.id, template_key="gift_ready",
                              used_at=now() - timedelta(days=1)),
            SubscriptionGrant(user_id=world.resident_a.id, template_key="gift_ready",
                              granted_at=long_ago)])
        db.session.commit()
        assert run_all()[GRANTS] == 1
        left = db.session.query(SubscriptionGrant).count()
        assert left == 2 and run_all()[GRANTS] == 0


def test_one_failing_sweep_does_not_stop_the_other(app, make, world, redis_url, monkeypatch):
    _answered_long_ago(app, make, world, "old")

    def broken() -> int:
        raise RuntimeError("kaput")

    monkeypatch.setattr("backend.notify.tasks.sweep_spent_grants", broken)
    with app.app_context():
        report = run_all()
    assert isinstance(report[GRANTS], RuntimeError) and report[KEYS] == 1


def test_large_sweeps_go_in_batches(app, world, monkeypatch):
    monkeypatch.setattr(idempotency, "SWEEP_BATCH", 2)
    with app.app_context():
        db.session.add_all([IdempotencyKey(user_id=world.admin.id, key=f"k{i}",
                                           request_hash="x", created_at=now() - timedelta(
                                               days=2)) for i in range(5)])
        db.session.commit()
        assert idempotency.sweep_expired_keys() == 5
        assert db.session.query(IdempotencyKey).count() == 0


def test_unspent_grants_are_capped_per_template(app, make, world):
    app.config["MAX_OPEN_GRANTS"], limit = 3, app.config["MAX_OPEN_GRANTS"]
    template = app.config["TEMPLATE_IDS"]["gift_ready"]
    other = app.config["TEMPLATE_IDS"]["shift_reminder"]
    try:
        for _ in range(2):
            answer = make.call("POST", "/api/v1/me/subscriptions", world.resident_a,
                               json={"template_ids": [template, template, other]})
            assert answer.status_code == 201
    finally:
        app.config["MAX_OPEN_GRANTS"] = limit
    with app.app_context():
        assert notify_services._open_grants(world.resident_a.id) == {
            "gift_ready": 3, "shift_reminder": 2}


SCANS = "checkin-sweep_old_scans"


def _scanned_activity(app, make, world, ended_days_ago: float,
                      status: AttendanceStatus) -> int:
    """An activity with resident_a scanned in and out, moved back in time to have ended
    ``ended_days_ago``, its attendance left at ``status``."""
    start = now().replace(microsecond=0) + timedelta(days=1)
    activity = make.activity(world.team_a, starts_at=start, ends_at=start + timedelta(hours=2))
    assert make.call("POST", f"/api/v1/activities/{activity}/signups",
                     world.resident_a).status_code == 201
    with time_machine.travel(start, tick=False) as traveller:
        for direction in ("in", "out"):
            answer = scan(make, world.leader_a, activity,
                          personal_code(app, world.resident_a.id), direction)
            assert answer.get_json()["result"] == "ok"
            traveller.shift(timedelta(minutes=60))
    with app.app_context():
        moved_by = start + timedelta(hours=2) - (now() - timedelta(days=ended_days_ago))
        row = db.session.get(Activity, activity)
        row.starts_at, row.ends_at = row.starts_at - moved_by, row.ends_at - moved_by
        db.session.query(Attendance).filter_by(activity_id=activity).one().status = status
        db.session.commit()
    return activity


def _scans_of(app, activity_id: int) -> int:
    with app.app_context():
        return db.session.query(Scan).filter_by(activity_id=activity_id).count()


def test_old_scans_of_decided_activities_go_and_the_attendance_stays(app, make, world,
                                                                   redis_url):
    keep = app.config["SCAN_KEEP_DAYS"]
    old = _scanned_activity(app, make, world, keep + 1, AttendanceStatus.APPROVED)
    undecided = _scanned_activity(app, make, world, keep + 1, AttendanceStatus.CONFIRMED)
    recent = _scanned_activity(app, make, world, keep - 1, AttendanceStatus.APPROVED)
    with app.app_context():
        assert run_all()[SCANS] == 2
        assert run_all()[SCANS] == 0
        kept = db.session.query(Attendance).filter_by(activity_id=old).one()
        assert kept.status == AttendanceStatus.APPROVED and kept.minutes == 60
    assert [_scans_of(app, a) for a in (old, undecided, recent)] == [0, 2, 2]

