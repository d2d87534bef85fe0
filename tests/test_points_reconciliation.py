"""The month-end reconciliation report (SPEC §6 contract)."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from backend.common.clock import LOCAL_TZ, now
from backend.extensions import db
from backend.points.ledger import account_for, reverse, transfer
from backend.points.models import AccountKind, Transfer, TransferReason
from tests.points_support import signed

R = TransferReason


def test_period_report_balances_and_lists_every_check(app, make, world):
    before = now() - timedelta(days=40)
    with app.app_context():
        book = {kind: account_for(world.a, kind) for kind in
                (AccountKind.ISSUED, AccountKind.REDEEMED, AccountKind.EXPIRED,
                 AccountKind.ADJUSTMENTS)}
        mine = account_for(world.a, AccountKind.RESIDENT, world.resident_a.id)
        with time_machine.travel(before):
            transfer(book[AccountKind.ISSUED], mine, 100, R.SERVICE, "a:0", "old", **signed())
        transfer(book[AccountKind.ISSUED], mine, 50, R.SERVICE, "a:1", "k1", **signed())
        spend = transfer(mine, book[AccountKind.REDEEMED], 30, R.REDEEM, "r:1", "k2")
        reverse(spend, "k3", world.staff_a.id, world.leader_a.id)  # counts as a refund
        transfer(book[AccountKind.REDEEMED], mine, 5, R.REFUND, "r:2", "k4")
        transfer(mine, book[AccountKind.EXPIRED], 20, R.EXPIRE, "year:2025", "k5")
        transfer(book[AccountKind.ADJUSTMENTS], mine, 7, R.ADJUST, "adj:1", "k6", **signed())
        transfer(mine, book[AccountKind.ADJUSTMENTS], 2, R.ADJUST, "adj:2", "k7")
        db.session.commit()
    today = now().astimezone(LOCAL_TZ).date()
    query = {"from": (today - timedelta(days=10)).isoformat(), "to": today.isoformat()}
    report = make.call("GET", f"/api/v1/communities/{world.a}/points/reconciliation",
                       world.staff_a, query_string=query).json
    assert {k: v for k, v in report.items() if k != "checks"} == {
        "opening_total": 100, "issued": 50, "redeemed": 0, "refunded": 5, "expired": 20,
        "adjusted": 5, "closing_total": 140, "closed_periods": [],
        "reversals": [{"transfer_id": 4, "reverses_id": 3, "amount": 30, "reason": "redeem"}]}
    assert {c["name"]: c["ok"] for c in report["checks"]} == {
        "period_identity": True, "sum_of_accounts_is_zero": True,
        "stored_balances_match_entries": True, "no_negative_resident_balance": True,
        "closed_periods_unchanged": True,
        # "r:1", "a:0" and "a:1" were written straight into the ledger, with no redemption
        # or approved attendance behind them.
        "redeem_transfers_have_redemptions": False,
        "service_transfers_have_approved_attendances": False,
        "duty_transfers_have_approved_shifts": True,
        "minted_transfers_have_two_people": True, "reversals_match_originals": True}


def test_a_tampered_balance_fails_its_check(app, make, world):
    with app.app_context():
        mine = account_for(world.a, AccountKind.RESIDENT, world.resident_a.id)
        transfer(account_for(world.a, AccountKind.ISSUED), mine, 10, R.SERVICE, "a:1", "k",
                 **signed())
        mine.balance = 999  # what a direct UPDATE would do behind the ledger's back
        db.session.commit()
        assert db.session.query(Transfer).count() == 1
    today = now().astimezone(LOCAL_TZ).date().isoformat()
    report = make.call("GET", f"/api/v1/communities/{world.a}/points/reconciliation",
                       world.staff_a, query_string={"from": today, "to": today}).json
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["stored_balances_match_entries"]["ok"] is False
    assert checks["sum_of_accounts_is_zero"]["ok"] is True


def test_reconciliation_is_for_the_community_staff(make, world):
    query = {"from": "2026-11-01", "to": "2026-11-30"}
    url = f"/api/v1/communities/{world.a}/points/reconciliation"
    assert make.call("GET", url, world.staff_b, query_string=query).status_code == 403
    assert make.call("GET", url, world.leader_a, query_string=query).status_code == 403
    backwards = make.call("GET", url, world.staff_a,
                          query_string={"from": "2026-11-30", "to": "2026-11-01"})
    assert backwards.status_code == 422
