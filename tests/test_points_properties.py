"""Property test over the whole points economy (SPEC §6, §7): random sequences of credits,
adjustments, redemptions, pickups, cancellations, lapsed reservations, passing years and
point expiry. After every step every ledger invariant holds, the reconciliation identity
balances, stock is never over-committed, and every redeem and refund points at a
redemption that explains it."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.auth.models import User
from backend.common.clock import LOCAL_TZ
from backend.communities.models import Community
from backend.errors import ApiError
from backend.extensions import db
from backend.gifts import redemptions, services, tasks
from backend.gifts.models import Gift, Redemption, RedemptionStatus
from backend.points.expiry import expire_due_points, unspent_lots
from backend.points.ledger import account_for, transfer
from backend.points.models import Account, AccountKind, Transfer, TransferReason
from backend.points.reconciliation import reconcile
from tests.points_support import signed

R = TransferReason
REFUSALS = {"insufficient_points", "out_of_stock", "limit_exceeded", "already_fulfilled",
            "already_cancelled", "reservation_expired"}
START = datetime(2025, 2, 1, 10, 0, tzinfo=LOCAL_TZ)

STEPS = st.lists(st.tuples(
    st.sampled_from(["credit", "credit", "adjust_down", "redeem", "redeem", "cancel",
                     "staff_cancel", "fulfil", "lapse", "days_pass"]),
    st.integers(min_value=0, max_value=2), st.integers(min_value=1, max_value=40)),
    min_size=1, max_size=20)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=STEPS)
def test_every_invariant_holds_after_every_step(app, make, steps):
    community = make.community(f"社区{len(steps)}")
    staff = make.staff(community)
    people = [make.resident(community, f"居民{i}") for i in range(3)]
    clock = START
    with app.app_context():
        db.session.get(Community, community).points_expire = True
        db.session.commit()
        staff_user = db.session.get(User, staff.id)
        users = [db.session.get(User, p.id) for p in people]
        gifts = [services.create_gift(staff_user, community, {
            "name": f"礼品{i}", "points_cost": 5 + 10 * i, "stock": 4,
            "per_user_limit": 3 if i else None}).id for i in range(2)]
        with time_machine.travel(clock, tick=False):
            for user in users:  # everyone starts with something to spend
                _apply("credit", community, user, staff_user, gifts, 60, f"start-{user.id}")
        for number, (step, who, amount) in enumerate(steps):
            if step == "days_pass":
                clock += timedelta(days=amount * 25)
            with time_machine.travel(clock, tick=False):
                _apply(step, community, users[who], staff_user, gifts, amount, number)
                expire_due_points()
                _assert_books(community, staff_user, gifts, clock)


def _apply(step, community, user, staff_user, gifts, amount, number):
    try:
        if step in ("credit", "adjust_down"):
            pool = account_for(community, AccountKind.ADJUSTMENTS)
            mine = account_for(community, AccountKind.RESIDENT, user.id)
            source, target = (pool, mine) if step == "credit" else (mine, pool)
            # Credits are minted as signed adjustments: a service or duty credit must point
            # at an approved attendance or shift, which the reconciliation checks
            # (tests/test_checkin_approval.py, tests/test_separation_of_duties.py).
            transfer(source, target, amount, R.ADJUST, f"test:{number}",
                     f"{community}-{number}", **signed())
            db.session.commit()
        elif step == "redeem":
            redemptions.redeem(user, gifts[amount % 2], 1 + amount % 2)
        elif step == "lapse":
            _lapse(community)
        else:
            _settle(step, community, user, staff_user, amount)
    except ApiError as refusal:
        assert refusal.code in REFUSALS, refusal.code
        db.session.rollback()


def _lapse(community):
    """A reservation reaches its pickup deadline: the job cancels it with a refund."""
    row = db.session.query(Redemption).filter_by(community_id=community,
                                                 status="reserved").first()
    if row is None:
        return
    row.expires_at = row.created_at
    db.session.commit()
    tasks.expire_reservations()
    db.session.refresh(row)
    assert (row.status, row.cancel_reason) == (RedemptionStatus.CANCELLED, "expired")


def _settle(step, community, user, staff_user, amount):
    mine = db.session.query(Redemption).filter_by(community_id=community).order_by(Redemption.id)
    if step == "cancel":
        mine = mine.filter_by(user_id=user.id)
    rows = mine.all()
    if not rows:
        return
    target = rows[amount % len(rows)]
    if step == "fulfil":
        redemptions.fulfil(staff_user, target.pickup_code)
    else:
        redemptions.cancel(user if step == "cancel" else staff_user, target.id)


def _assert_books(community, staff_user, gifts, clock):
    report = reconcile(staff_user, community, date(2025, 1, 1),
                       clock.astimezone(LOCAL_TZ).date())
    assert all(check["ok"] for check in report["checks"]), report["checks"]
    assert report["opening_total"] == 0
    too_old = clock.astimezone(LOCAL_TZ).year - 2
    for account in db.session.query(Account).filter_by(community_id=community,
                                                       kind=AccountKind.RESIDENT):
        assert unspent_lots(account, [too_old])[too_old] == 0  # expired on time
    rows = db.session.query(Redemption).filter_by(community_id=community).all()
    for gift_id in gifts:
        gift = db.session.get(Gift, gift_id)
        held = Counter()
        for row in rows:
            if row.gift_id == gift_id:
                held[row.status] += row.quantity
        assert gift.reserved == held[RedemptionStatus.RESERVED]
        assert gift.fulfilled == held[RedemptionStatus.FULFILLED]
        assert gift.reserved + gift.fulfilled <= gift.stock
    by_ref = {f"redemption:{row.id}": row for row in rows}
    moved = Counter()
    for t in db.session.query(Transfer).filter(Transfer.community_id == community,
                                               Transfer.reason.in_((R.REDEEM, R.REFUND))):
        redemption = by_ref[t.ref]  # every redeem and refund points at a redemption
        assert t.amount == redemption.points
        moved[(t.ref, t.reason)] += 1
    for ref, row in by_ref.items():
        assert moved[(ref, R.REDEEM)] == 1
        assert moved[(ref, R.REFUND)] == (row.status == RedemptionStatus.CANCELLED)
