"""Resident point accounts: opened on joining; the get-or-create fallback is race-safe."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from backend.extensions import db
from backend.points.ledger import account_for
from backend.points.models import Account, AccountKind


def test_joining_a_community_opens_the_points_account(app, make, world):
    joined = make.call("POST", f"/api/v1/communities/{world.a}/join", world.outsider,
                       json={"real_name": "刘备", "building": "5", "unit": "1", "room": "302"})
    assert joined.status_code == 201
    with app.app_context():
        account = db.session.query(Account).filter_by(user_id=world.outsider.id).one()
        assert (account.community_id, account.kind, account.balance) == (
            world.a, AccountKind.RESIDENT, 0)


@pytest.mark.postgres_only
def test_first_transfers_at_the_same_instant_share_one_new_account(app, make, world):
    """Residents who joined before accounts were opened on joining still get exactly one."""
    people = [make.user().id for _ in range(10)]
    barrier = threading.Barrier(20)

    def open_account(user_id):
        with app.app_context():
            barrier.wait()
            account = account_for(world.a, AccountKind.RESIDENT, user_id)
            db.session.commit()
            return user_id, account.id

    with ThreadPoolExecutor(20) as pool:
        opened = list(pool.map(open_account, people * 2))
    by_user: dict[int, set[int]] = {}
    for user_id, account_id in opened:
        by_user.setdefault(user_id, set()).add(account_id)
    assert all(len(ids) == 1 for ids in by_user.values())
    with app.app_context():
        assert db.session.query(Account).filter(Account.user_id.in_(people)).count() == 10
