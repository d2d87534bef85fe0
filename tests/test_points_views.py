"""What a resident sees of their points (SPEC §6 contract)."""

from __future__ import annotations

from backend.extensions import db
from backend.points.ledger import account_for, transfer
from backend.points.models import AccountKind, TransferReason
from tests.points_support import signed

R = TransferReason


def test_balance_totals_and_statement(app, make, world):
    with app.app_context():
        issued = account_for(world.a, AccountKind.ISSUED)
        redeemed = account_for(world.a, AccountKind.REDEEMED)
        mine = account_for(world.a, AccountKind.RESIDENT, world.resident_a.id)
        transfer(issued, mine, 40, R.SERVICE, "attendance:1", "k1", **signed())
        transfer(issued, mine, 8, R.DUTY, "assignment:3", "k2", **signed())
        transfer(mine, redeemed, 30, R.REDEEM, "redemption:1", "k3")
        transfer(redeemed, mine, 10, R.REFUND, "redemption:1", "k4")
        db.session.commit()
    summary = make.call("GET", "/api/v1/me/points", world.resident_a).json
    assert summary == {"balance": 28, "earned_total": 48, "spent_total": 20, "expiring": []}
    page = make.call("GET", "/api/v1/me/points/entries?per_page=3", world.resident_a).json
    assert page["total"] == 4
    assert [(e["amount"], e["reason"], e["balance_after"]) for e in page["items"]] == [
        (10, "refund", 28), (-30, "redeem", 18), (8, "duty", 48)]
    assert page["items"][0]["ref"] == "redemption:1"
    assert page["items"][0]["created_at"].endswith("+08:00")


def test_someone_without_points_sees_zeros(make, world):
    assert make.call("GET", "/api/v1/me/points", world.outsider).json == {
        "balance": 0, "earned_total": 0, "spent_total": 0, "expiring": []}
    assert make.call("GET", "/api/v1/me/points/entries", world.resident_b).json["total"] == 0


def test_statements_are_private(app, make, world):
    with app.app_context():
        mine = account_for(world.a, AccountKind.RESIDENT, world.resident_a.id)
        transfer(account_for(world.a, AccountKind.ISSUED), mine, 5, R.SERVICE, "a:1", "k",
                 **signed())
        db.session.commit()
    assert make.call("GET", "/api/v1/me/points/entries", world.leader_a).json["total"] == 0
    assert make.call("GET", "/api/v1/me/points", world.staff_a).json["balance"] == 0
