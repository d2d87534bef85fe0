"""Stock and balances under real concurrency (SPEC §7, §11): real HTTP requests at once
against a served app; PostgreSQL with the SPEC-sized crowd, SQLite with a smaller one."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
import requests

from backend.common.clock import now
from backend.extensions import db
from backend.gifts import redemptions
from backend.gifts.models import Gift, Redemption, RedemptionStatus
from backend.points.ledger import account_for, invariant_checks
from backend.points.models import AccountKind, Transfer, TransferReason
from tests.conftest import ON_POSTGRES, all_at_once
from tests.points_support import seed_points

CROWD, ITEMS = (200, 10) if ON_POSTGRES else (40, 10)


def call(method, url, person, json=None):
    def run():
        with requests.Session() as session:
            return session.request(method, url, headers=person.headers, json=json, timeout=60)
    return run


def fund(app, community_id, people, amount):
    with app.app_context():
        for person in people:
            seed_points(community_id, person.id, amount, f"seed-{person.id}")
        db.session.commit()


def gift(make, world, **fields):
    body = {"name": "洗衣液", "points_cost": 10, "stock": ITEMS, **fields}
    return make.call("POST", f"/api/v1/communities/{world.a}/gifts", world.staff_a,
                     json=body).json["id"]


def balances(app, community_id, people):
    with app.app_context():
        return {p.id: account_for(community_id, AccountKind.RESIDENT, p.id).balance
                for p in people}


def books_balance(app, community_id, gift_id):
    with app.app_context():
        assert all(check.ok for check in invariant_checks(community_id))
        stored = db.session.get(Gift, gift_id)
        held = Counter()
        for row in db.session.query(Redemption).filter_by(gift_id=gift_id):
            held[row.status] += row.quantity
        assert (stored.reserved, stored.fulfilled) == (held[RedemptionStatus.RESERVED],
                                                       held[RedemptionStatus.FULFILLED])
        return stored


def test_a_crowd_redeeming_the_last_items_gets_exactly_that_many(app, make, world, served):
    crowd = [make.resident(world.a, f"居民{i}") for i in range(CROWD)]
    fund(app, world.a, crowd, 50)
    gid = gift(make, world)
    answers = all_at_once([call("POST", f"{served}/gifts/{gid}/redemptions", p,
                                {"quantity": 1}) for p in crowd])
    assert Counter(r.status_code for r in answers) == {201: ITEMS, 409: CROWD - ITEMS}
    assert {r.json()["error"]["code"] for r in answers if r.status_code == 409} == {
        "out_of_stock"}
    winners = {p.id for p, r in zip(crowd, answers, strict=True) if r.status_code == 201}
    after = balances(app, world.a, crowd)
    assert {uid: b for uid, b in after.items() if uid not in winners} == {
        p.id: 50 for p in crowd if p.id not in winners}  # everyone else untouched
    assert all(after[uid] == 40 for uid in winners)
    stored = books_balance(app, world.a, gid)
    assert (stored.reserved, stored.stock_left) == (ITEMS, 0)


def test_one_resident_tapping_many_times_never_overspends(app, make, world, served):
    fund(app, world.a, [world.resident_a], 55)
    gid = gift(make, world, stock=100)
    taps = all_at_once([call("POST", f"{served}/gifts/{gid}/redemptions", world.resident_a,
                             {"quantity": 1}) for _ in range(20)])
    assert Counter(r.status_code for r in taps) == {201: 5, 409: 15}
    assert {r.json()["error"]["code"] for r in taps if r.status_code == 409} == {
        "insufficient_points"}
    assert balances(app, world.a, [world.resident_a]) == {world.resident_a.id: 5}
    assert books_balance(app, world.a, gid).reserved == 5


def test_one_resident_tapping_many_times_keeps_the_per_user_limit(app, make, world, served):
    fund(app, world.a, [world.resident_a], 1000)
    gid = gift(make, world, stock=100, per_user_limit=3)
    taps = all_at_once([call("POST", f"{served}/gifts/{gid}/redemptions", world.resident_a,
                             {"quantity": 1}) for _ in range(20)])
    assert Counter(r.status_code for r in taps) == {201: 3, 409: 17}
    assert {r.json()["error"]["code"] for r in taps if r.status_code == 409} == {
        "limit_exceeded"}
    assert balances(app, world.a, [world.resident_a]) == {world.resident_a.id: 970}


def test_cancel_racing_fulfil_lets_exactly_one_win(app, make, world, served):
    people = [make.resident(world.a, f"居民{i}") for i in range(ITEMS)]
    fund(app, world.a, people, 10)
    gid = gift(make, world)
    held = [make.call("POST", f"/api/v1/gifts/{gid}/redemptions", p, json={}).json
            for p in people]
    calls = []
    for person, redemption in zip(people, held, strict=True):
        calls.append(call("POST", f"{served}/redemptions/{redemption['id']}/cancel", person))
        calls.append(call("POST", f"{served}/redemptions/fulfil", world.staff_a,
                          {"pickup_code": redemption["pickup_code"]}))
    answers = all_at_once(calls)
    for cancel, fulfil in zip(answers[::2], answers[1::2], strict=True):
        assert sorted((cancel.status_code, fulfil.status_code)) == [200, 409]
    stored = books_balance(app, world.a, gid)
    with app.app_context():
        refunds = db.session.query(Transfer).filter_by(reason=TransferReason.REFUND).count()
    cancelled = sum(1 for a in answers[::2] if a.status_code == 200)
    assert refunds == cancelled and stored.fulfilled == ITEMS - cancelled
    assert stored.reserved == 0 and stored.stock_left == cancelled


@pytest.mark.postgres_only
def test_cancel_racing_the_expiry_job_refunds_once(app, make, world, served):
    people = [make.resident(world.a, f"居民{i}") for i in range(ITEMS)]
    fund(app, world.a, people, 10)
    gid = gift(make, world)
    held = [make.call("POST", f"/api/v1/gifts/{gid}/redemptions", p, json={}).json["id"]
            for p in people]
    with app.app_context():  # all of them just past their pickup deadline
        for row in db.session.query(Redemption).filter(Redemption.id.in_(held)):
            row.expires_at = now() - timedelta(seconds=1)
        db.session.commit()
    barrier = threading.Barrier(2)

    def job():
        barrier.wait()
        with app.app_context():
            return [redemptions.expire(rid) for rid in held]

    def cancels():
        barrier.wait()
        return all_at_once([call("POST", f"{served}/redemptions/{rid}/cancel", p)
                            for p, rid in zip(people, held, strict=True)])

    results: dict[str, list] = {}
    threads = [threading.Thread(target=lambda: results.update(job=job())),
               threading.Thread(target=lambda: results.update(http=cancels()))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for expired, answer in zip(results["job"], results["http"], strict=True):
        assert expired != (answer.status_code == 200)  # exactly one of them cancelled it
    assert balances(app, world.a, people) == {p.id: 10 for p in people}
    with app.app_context():
        assert db.session.query(Transfer).filter_by(reason=TransferReason.REFUND).count() == \
            ITEMS
    assert books_balance(app, world.a, gid).stock_left == ITEMS
