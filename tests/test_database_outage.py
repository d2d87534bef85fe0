"""The database going away between a request's commit and its answer (the primary restarting
under load, scripts/bench/district.py) is never a 500: what committed is answered as done,
and what could not be recorded afterwards is left to the sweeps that exist for it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from backend.activities.models import Signup
from backend.common import idempotency
from backend.common.idempotency import IdempotencyKey
from backend.common.transactions import unit_of_work
from backend.extensions import db
from backend.notify import tasks
from backend.notify.models import Notification
from backend.notify.outbox import remember_new_notice


def _gone(*_args, **_kwargs):
    raise OperationalError("UPDATE notifications", {},
                           Exception("terminating connection due to administrator command"))


def _sign_up(make, person, aid: int, key: str):
    return make.call("POST", f"/api/v1/activities/{aid}/signups", person,
                     headers={"Idempotency-Key": key})


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """RQ takes every notice (no Redis needed): the ids handed over."""
    handed: list[int] = []

    def enqueue(notification_id, send_after=None):
        handed.append(notification_id)
        return True

    monkeypatch.setattr(tasks, "enqueue_send", enqueue)
    return handed


def test_a_sign_up_committed_before_the_database_went_away_is_answered_as_done(
        app, make, world, monkeypatch, enqueued):
    aid = make.activity(world.team_a)
    # The relay's stamp after the commit fails, as when PostgreSQL stops right then.
    monkeypatch.setattr(tasks, "update", _gone)
    answer = make.call("POST", f"/api/v1/activities/{aid}/signups", world.resident_a)
    assert answer.status_code == 201, answer.json
    assert answer.json["status"] == "confirmed"
    with app.app_context():
        signup = db.session.scalar(select(Signup).filter_by(activity_id=aid,
                                                            user_id=world.resident_a.id))
        notice = db.session.get(Notification, enqueued[0])
        # Handed to RQ but not stamped: the drain hands it over again, and the row decides.
        assert signup is not None and notice.queued_at is None


def test_an_answer_that_cannot_be_stored_still_reaches_the_caller(app, make, world,
                                                                  monkeypatch, enqueued):
    aid = make.activity(world.team_a)
    # Storing the answer is the one place the middleware reads the key back.
    monkeypatch.setattr(idempotency, "select", _gone)
    answer = _sign_up(make, world.resident_a, aid, "k-outage-1")
    monkeypatch.undo()
    assert answer.status_code == 201, answer.json
    with app.app_context():
        kept = db.session.scalar(select(IdempotencyKey).filter_by(key="k-outage-1"))
        # Still reserved, without an answer: a retry is refused as in progress until stale.
        assert kept is not None and kept.body is None
    again = _sign_up(make, world.resident_a, aid, "k-outage-1")
    assert again.status_code == 409
    assert again.json["error"]["code"] == "idempotency_request_in_progress"


def test_a_unit_of_work_whose_after_commit_fails_raises_that_failure(app, monkeypatch,
                                                                     enqueued):
    with app.app_context():
        monkeypatch.setattr(tasks, "enqueue_many", _gone)  # the relay, inside the commit
        with pytest.raises(OperationalError), unit_of_work():
            remember_new_notice(db.session, 1, None)
        # The session is usable again: the next unit of work runs.
        monkeypatch.undo()
        with unit_of_work():
            assert db.session.scalar(select(1)) == 1


def test_a_failure_inside_the_commit_is_the_503_envelope_not_a_500(make, world, monkeypatch,
                                                                   enqueued):
    aid = make.activity(world.team_a)
    monkeypatch.setattr(tasks, "enqueue_many", _gone)
    answer = _sign_up(make, world.resident_a, aid, "k-outage-2")
    assert answer.status_code == 503
    assert answer.json["error"]["code"] == "unavailable"


def test_a_connection_that_dies_before_the_teardown_leaves_the_answer_alone(make, world,
                                                                            monkeypatch):
    failed: list[Session] = []
    real_close = Session.close

    def close(self):
        # The first session ended after the answer is made: its ROLLBACK finds the
        # connection gone (PostgreSQL restarting), which used to escape as gunicorn's 500.
        if not failed:
            failed.append(self)
            raise OperationalError("ROLLBACK", {},
                                   Exception("terminating connection due to administrator"))
        return real_close(self)

    monkeypatch.setattr(Session, "close", close)
    answer = make.call("GET", "/api/v1/me/points", world.resident_a)
    assert failed, "the request's session was never closed"
    assert answer.status_code == 200
    assert "balance" in answer.json
    monkeypatch.undo()
    # The next request gets a working session.
    assert make.call("GET", "/api/v1/me/points", world.resident_a).status_code == 200
