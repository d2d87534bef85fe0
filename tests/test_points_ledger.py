"""The points ledger core (SPEC §6): double entry, append-only, never negative, idempotent."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.errors import ApiError
from backend.extensions import db
from backend.points.ledger import account_for, invariant_checks, reverse, transfer
from backend.points.models import AccountKind, Transfer, TransferReason
from tests.points_support import signatories, signed

R = TransferReason


def accounts(community_id, user_ids):
    return {
        "issued": account_for(community_id, AccountKind.ISSUED),
        "redeemed": account_for(community_id, AccountKind.REDEEMED),
        "expired": account_for(community_id, AccountKind.EXPIRED),
        "adjustments": account_for(community_id, AccountKind.ADJUSTMENTS),
        **{uid: account_for(community_id, AccountKind.RESIDENT, uid) for uid in user_ids},
    }


def all_ok(community_id):
    return all(check.ok for check in invariant_checks(community_id))


def test_credit_spend_and_reverse_keep_the_books_balanced(app, world):
    with app.app_context():
        book = accounts(world.a, [world.resident_a.id])
        mine = book[world.resident_a.id]
        transfer(book["issued"], mine, 30, R.SERVICE, "attendance:1", "k-1", **signed())
        spent = transfer(mine, book["redeemed"], 12, R.REDEEM, "redemption:1", "k-2")
        assert (mine.balance, book["issued"].balance, book["redeemed"].balance) == (18, -30, 12)
        assert (spent.from_balance_after, spent.to_balance_after) == (18, 12)
        undo = reverse(spent, "k-3", author_id=world.staff_a.id, prepared_by=world.leader_a.id)
        assert undo.reverses_id == spent.id and mine.balance == 30
        db.session.commit()
        assert all_ok(world.a)
        assert db.session.query(Transfer).count() == 3  # nothing edited, one more row


def test_spending_more_than_the_balance_is_refused(app, world):
    with app.app_context():
        book = accounts(world.a, [world.resident_a.id])
        transfer(book["issued"], book[world.resident_a.id], 5, R.SERVICE, "a:1", "k-1", **signed())
        with pytest.raises(ApiError) as refused:
            transfer(book[world.resident_a.id], book["redeemed"], 6, R.REDEEM, "r:1", "k-2")
        assert refused.value.code == "insufficient_points"
        assert book[world.resident_a.id].balance == 5


def test_the_same_key_moves_points_once(app, world):
    with app.app_context():
        book = accounts(world.a, [world.resident_a.id])
        mine = book[world.resident_a.id]
        first = transfer(book["issued"], mine, 10, R.SERVICE, "a:1", "k", **signed())
        again = transfer(book["issued"], mine, 10, R.SERVICE, "a:1", "k", **signed())
        assert again.id == first.id and book[world.resident_a.id].balance == 10
        with pytest.raises(ApiError) as reused:
            transfer(book["issued"], mine, 11, R.SERVICE, "a:1", "k", **signed())
        assert reused.value.code == "idempotency_key_reused"


OPERATIONS = st.lists(st.tuples(
    st.sampled_from(["credit", "redeem", "refund", "expire", "adjust_up", "adjust_down",
                     "reverse_last"]),
    st.integers(min_value=0, max_value=2), st.integers(min_value=1, max_value=50)),
    min_size=1, max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(operations=OPERATIONS)
def test_invariants_hold_after_every_step(app, make, operations):
    community = make.community(f"社区{len(operations)}")
    people = [make.user().id for _ in range(3)]
    flows = {"credit": ("issued", "who", R.SERVICE), "redeem": ("who", "redeemed", R.REDEEM),
             "refund": ("redeemed", "who", R.REFUND), "expire": ("who", "expired", R.EXPIRE),
             "adjust_up": ("adjustments", "who", R.ADJUST),
             "adjust_down": ("who", "adjustments", R.ADJUST)}
    with app.app_context():
        book = accounts(community, people)
        done: list[Transfer] = []
        for step, (operation, who, amount) in enumerate(operations):
            key = f"{community}-{step}"
            try:
                if operation == "reverse_last":
                    if done:
                        first, second = signatories()
                        done.append(reverse(done[-1], key, second, first))
                else:
                    source, target, reason = flows[operation]
                    pick = {"who": people[who]}
                    done.append(transfer(book[pick.get(source, source)],
                                         book[pick.get(target, target)], amount, reason,
                                         f"test:{step}", key, **signed()))
            except ApiError as refusal:
                assert refusal.code == "insufficient_points"
            db.session.commit()
            assert all_ok(community), invariant_checks(community)


@pytest.mark.postgres_only
def test_concurrent_spending_never_goes_negative(app, world):
    """40 threads spend 10 each from a balance of 100: exactly 10 succeed."""
    with app.app_context():
        book = accounts(world.a, [world.resident_a.id])
        transfer(book["issued"], book[world.resident_a.id], 100, R.SERVICE, "a:1", "seed",
                 **signed())
        db.session.commit()
        ids = (book[world.resident_a.id].id, book["redeemed"].id)
    barrier = threading.Barrier(40)

    def spend(n):
        from backend.points.models import Account

        with app.app_context():
            source, target = (db.session.get(Account, i) for i in ids)
            barrier.wait()
            try:
                transfer(source, target, 10, R.REDEEM, f"r:{n}", f"spend-{n}")
                db.session.commit()
                return True
            except ApiError:
                db.session.rollback()
                return False

    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(spend, range(40)))
    assert results.count(True) == 10
    with app.app_context():
        assert all_ok(world.a)
        assert db.session.get(type(book["issued"]), ids[0]).balance == 0

