"""Yearly expiry (SPEC §6): points earned in year Y expire at the end of Y+1, oldest
spent first; a scheduled job writes the ``expire`` transfers, once per resident and year."""

from __future__ import annotations

from datetime import datetime

import time_machine

from backend.common.clock import LOCAL_TZ
from backend.extensions import db
from backend.points.expiry import expire_due_points
from backend.points.ledger import account_for, invariant_checks, transfer
from backend.points.models import AccountKind, ExpiryRun, Transfer, TransferReason
from backend.schedule import run_all
from tests.points_support import signed

R = TransferReason


def at(year, month, day=1, hour=12):
    return time_machine.travel(datetime(year, month, day, hour, tzinfo=LOCAL_TZ), tick=False)


def move(app, world, when, amount, reason, key):
    mine = (world.a, AccountKind.RESIDENT, world.resident_a.id)
    with when, app.app_context():
        account, issued = account_for(*mine), account_for(world.a, AccountKind.ISSUED)
        redeemed = account_for(world.a, AccountKind.REDEEMED)
        pair = (issued, account) if reason == R.SERVICE else (
            (redeemed, account) if reason == R.REFUND else (account, redeemed))
        people = signed() if reason == R.SERVICE else {}
        transfer(*pair, amount, reason, f"test:{key}", key, **people)
        db.session.commit()


def history(app, world):
    """Earn 100 in 2025, spend 30; earn 50 in 2026, spend 40 and get 10 back: FIFO leaves
    30 of 2025's points; 2026 holds its 50 and the 10 that came back."""
    move(app, world, at(2025, 3), 100, R.SERVICE, "e1")
    move(app, world, at(2025, 6), 30, R.REDEEM, "s1")
    move(app, world, at(2026, 2), 50, R.SERVICE, "e2")
    move(app, world, at(2026, 5), 40, R.REDEEM, "s2")
    move(app, world, at(2026, 5, 2), 10, R.REFUND, "r2")


def turn_expiry_on(make, world):
    changed = make.call("PATCH", f"/api/v1/communities/{world.a}", make.relogin(world.staff_a),
                        json={"points_expire": True})
    assert changed.status_code == 200 and changed.json["points_expire"] is True


def my_points(make, world):
    return make.call("GET", "/api/v1/me/points", make.relogin(world.resident_a)).json


def test_residents_see_what_expires_and_when(app, make, world):
    history(app, world)
    with at(2026, 11):
        assert my_points(make, world)["expiring"] == []  # off by default
        turn_expiry_on(make, world)
        points = my_points(make, world)
    assert points["balance"] == 90
    assert points["expiring"] == [{"amount": 30, "on": "2026-12-31"},
                                  {"amount": 60, "on": "2027-12-31"}]


def test_the_job_expires_last_years_leftovers_once(app, make, world):
    history(app, world)
    turn_expiry_on(make, world)
    with at(2026, 12, 31, 23), app.app_context():
        assert expire_due_points() == {"accounts": 0, "points": 0}  # 2025's still good
    with at(2027, 1, 1, 0), app.app_context():
        assert expire_due_points() == {"accounts": 1, "points": 30}
        assert expire_due_points() == {"accounts": 0, "points": 0}
        expired = db.session.query(Transfer).filter_by(reason=R.EXPIRE).one()
        assert (expired.amount, expired.ref) == (30, "expiry:2025")
        assert db.session.query(ExpiryRun).filter_by(community_id=world.a, year=2025).one()
        assert all(check.ok for check in invariant_checks(world.a))
    with at(2027, 3):
        assert my_points(make, world) == {
            "balance": 60, "earned_total": 150, "spent_total": 60,
            "expiring": [{"amount": 60, "on": "2027-12-31"}]}


def test_expiry_runs_from_the_schedule(app, make, world, redis_url):
    history(app, world)
    turn_expiry_on(make, world)
    with at(2027, 1, 2), app.app_context():
        report = run_all()
        assert report["points-expire_points"]["points"] == 30
        assert account_for(world.a, AccountKind.RESIDENT, world.resident_a.id).balance == 60


def test_nothing_expires_where_the_community_keeps_points(app, make, world):
    history(app, world)
    with at(2028, 1, 2), app.app_context():
        assert expire_due_points() == {"accounts": 0, "points": 0}
        assert db.session.query(Transfer).filter_by(reason=R.EXPIRE).count() == 0
