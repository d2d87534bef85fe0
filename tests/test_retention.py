"""Nothing grows without bound: idempotency answers and spent subscription grants are swept
by scheduled jobs (each sweep on its own, safe to run twice); unspent grants are capped."""

from __future__ import annotations

from datetime import timedelta

from backend.common import idempotency
from backend.common.clock import now
from backend.common.idempotency import IdempotencyKey
from backend.extensions import db
from backend.notify import services as notify_services
from backend.notify.models import SubscriptionGrant
from backend.schedule import run_all

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
