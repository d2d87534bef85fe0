"""The points supermarket (SPEC §7): shelf, redemption, pickup, cancellation, expiry."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from backend.common.audit import AuditEntry
from backend.common.clock import now
from backend.extensions import db
from backend.gifts import tasks
from backend.gifts.models import Gift, Redemption
from backend.notify.models import Notification
from backend.points.ledger import account_for, invariant_checks
from backend.points.models import AccountKind, Transfer, TransferReason
from tests.points_support import seed_points

API = "/api/v1"


def credit(app, community_id, person, amount, key=None):
    with app.app_context():
        seed_points(community_id, person.id, amount, key or f"credit-{person.id}-{amount}",
                    ref="attendance:test")
        db.session.commit()


def balance(app, community_id, person):
    with app.app_context():
        return account_for(community_id, AccountKind.RESIDENT, person.id).balance


def shelve(make, world, **fields):
    body = {"name": "抽纸", "description": "一提", "points_cost": 10, "stock": 5,
            "per_user_limit": 2, **fields}
    response = make.call("POST", f"{API}/communities/{world.a}/gifts", world.staff_a, json=body)
    assert response.status_code == 201, response.json
    return response.json


def redeem(make, person, gift_id, quantity=1):
    return make.call("POST", f"{API}/gifts/{gift_id}/redemptions", person,
                     json={"quantity": quantity})


def test_staff_shelve_a_gift_and_residents_see_stock_left(make, world):
    gift = shelve(make, world)
    assert gift["stock_left"] == 5 and gift["reserved"] == gift["fulfilled"] == 0
    listed = make.call("GET", f"{API}/communities/{world.a}/gifts", world.resident_a).json
    assert [g["name"] for g in listed["items"]] == ["抽纸"] and listed["total"] == 1


def test_redeeming_takes_points_and_reserves_stock_in_one_go(app, make, world):
    credit(app, world.a, world.resident_a, 50)
    gift = shelve(make, world)
    answer = redeem(make, world.resident_a, gift["id"], 2)
    assert answer.status_code == 201
    body = answer.json
    assert body["status"] == "reserved" and body["points"] == 20
    assert len(body["pickup_code"]) == 8 and body["expires_at"].endswith("+08:00")
    assert balance(app, world.a, world.resident_a) == 30
    listed = make.call("GET", f"{API}/communities/{world.a}/gifts", world.staff_a).json
    assert listed["items"][0]["stock_left"] == 3 and listed["items"][0]["reserved"] == 2
    with app.app_context():
        moved = db.session.query(Transfer).filter_by(reason=TransferReason.REDEEM).one()
        assert moved.ref == f"redemption:{body['id']}" and moved.amount == 20
        assert moved.to_account_id == account_for(world.a, AccountKind.REDEEMED).id
        notice = db.session.query(Notification).filter_by(template_key="gift_ready").one()
        assert notice.user_id == world.resident_a.id and body["pickup_code"] in notice.body


def test_redemption_refusals(app, make, world):
    credit(app, world.a, world.resident_a, 25)
    gift = shelve(make, world, stock=3, per_user_limit=2, points_cost=10)
    assert redeem(make, world.resident_a, gift["id"], 4).json["error"]["code"] == "out_of_stock"
    assert redeem(make, world.resident_a, gift["id"], 3).json["error"]["code"] == "limit_exceeded"
    limited = shelve(make, world, stock=10, per_user_limit=1, points_cost=1)
    assert redeem(make, world.resident_a, limited["id"]).status_code == 201
    refused = redeem(make, world.resident_a, limited["id"])
    assert refused.status_code == 409 and refused.json["error"]["code"] == "limit_exceeded"
    poor = redeem(make, world.resident_a, gift["id"], 2)
    assert poor.status_code == 201  # 20 of 24 points
    short = redeem(make, world.leader_a, gift["id"])
    assert short.status_code == 409 and short.json["error"]["code"] == "insufficient_points"
    assert balance(app, world.a, world.leader_a) == 0
    with app.app_context():
        assert db.session.get(Gift, gift["id"]).reserved == 2  # the refused ones left no trace
        assert db.session.query(Redemption).count() == 2


def test_only_residents_of_the_gift_community_redeem(make, world):
    gift = shelve(make, world)
    assert redeem(make, world.staff_a, gift["id"]).status_code == 403
    assert redeem(make, world.resident_b, gift["id"]).status_code == 404
    assert redeem(make, world.resident_a, gift["id"], 0).status_code == 422


def test_staff_hand_out_by_pickup_code_once(app, make, world):
    credit(app, world.a, world.resident_a, 50)
    gift = shelve(make, world)
    code = redeem(make, world.resident_a, gift["id"]).json["pickup_code"]
    url = f"{API}/redemptions/fulfil"
    assert make.call("POST", url, world.staff_b, json={"pickup_code": code}).status_code == 404
    assert make.call("POST", url, world.resident_a, json={"pickup_code": code}).status_code == 404
    done = make.call("POST", url, world.staff_a, json={"pickup_code": code.lower()})
    assert done.status_code == 200 and done.json["status"] == "fulfilled"
    again = make.call("POST", url, world.staff_a, json={"pickup_code": code})
    assert again.status_code == 409 and again.json["error"]["code"] == "already_fulfilled"
    with app.app_context():
        stored = db.session.get(Gift, gift["id"])
        assert (stored.reserved, stored.fulfilled, stored.stock_left) == (0, 1, 4)
    cancel = make.call("POST", f"{API}/redemptions/{done.json['id']}/cancel", world.resident_a)
    assert cancel.status_code == 409 and cancel.json["error"]["code"] == "already_fulfilled"
    assert balance(app, world.a, world.resident_a) == 40


def test_cancelling_refunds_and_restocks_exactly_once(app, make, world):
    credit(app, world.a, world.resident_a, 50)
    gift = shelve(make, world)
    rid = redeem(make, world.resident_a, gift["id"], 2).json["id"]
    assert make.call("POST", f"{API}/redemptions/{rid}/cancel", world.leader_a).status_code == 404
    done = make.call("POST", f"{API}/redemptions/{rid}/cancel", world.resident_a)
    assert done.status_code == 200 and done.json["status"] == "cancelled"
    assert done.json["cancel_reason"] == "resident"
    again = make.call("POST", f"{API}/redemptions/{rid}/cancel", world.staff_a)
    assert again.status_code == 409 and again.json["error"]["code"] == "already_cancelled"
    assert balance(app, world.a, world.resident_a) == 50
    with app.app_context():
        assert db.session.get(Gift, gift["id"]).stock_left == 5
        refunds = db.session.query(Transfer).filter_by(reason=TransferReason.REFUND).all()
        assert [(r.amount, r.ref) for r in refunds] == [(20, f"redemption:{rid}")]
        assert all(check.ok for check in invariant_checks(world.a))


def test_staff_cancel_is_audited(app, make, world):
    credit(app, world.a, world.resident_a, 50)
    gift = shelve(make, world)
    rid = redeem(make, world.resident_a, gift["id"]).json["id"]
    done = make.call("POST", f"{API}/redemptions/{rid}/cancel", world.staff_a)
    assert done.json["cancel_reason"] == "staff"
    with app.app_context():
        actions = [(a.action, a.actor_id) for a in db.session.query(AuditEntry).order_by(
            AuditEntry.id)]
    assert actions == [("gift.created", world.staff_a.id),
                       ("redemption.cancelled", world.staff_a.id)]


def test_restock_never_below_reserved_and_fulfilled(app, make, world):
    credit(app, world.a, world.resident_a, 50)
    gift = shelve(make, world, stock=3)
    redeem(make, world.resident_a, gift["id"], 2)
    url = f"{API}/gifts/{gift['id']}"
    low = make.call("PATCH", url, world.staff_a, json={"stock": 1})
    assert low.status_code == 409 and low.json["error"]["code"] == "stock_below_reserved"
    assert make.call("PATCH", url, world.leader_a, json={"stock": 9}).status_code == 403
    assert make.call("PATCH", url, world.staff_b, json={"stock": 9}).status_code == 404
    restocked = make.call("PATCH", url, world.staff_a, json={"stock": 10, "points_cost": 12})
    assert restocked.status_code == 200 and restocked.json["stock_left"] == 8
    with app.app_context():
        entry = db.session.query(AuditEntry).filter_by(action="gift.updated").one()
        assert entry.reason == "补货" and entry.before["stock"] == 3
        assert entry.after == {"stock": 10, "points_cost": 12}


def test_unclaimed_reservations_lapse_after_seven_days_with_refund(app, make, world):
    credit(app, world.a, world.resident_a, 50)
    gift = shelve(make, world)
    rid = redeem(make, world.resident_a, gift["id"], 2).json["id"]
    with app.app_context():
        assert tasks.remind_expiring_reservations() == 0
        assert tasks.expire_reservations() == 0
    with time_machine.travel(now() + timedelta(days=6, hours=1)), app.app_context():
        assert tasks.remind_expiring_reservations() == 1
        assert tasks.remind_expiring_reservations() == 0  # once
    with time_machine.travel(now() + timedelta(days=7, minutes=1)), app.app_context():
        late = make.relogin(world.staff_a)
        code = db.session.get(Redemption, rid).pickup_code
        refused = make.call("POST", f"{API}/redemptions/fulfil", late, json={"pickup_code": code})
        assert refused.json["error"]["code"] == "reservation_expired"
        assert tasks.expire_reservations() == 1
        assert tasks.expire_reservations() == 0
        lapsed = db.session.get(Redemption, rid)
        assert (lapsed.status, lapsed.cancel_reason) == ("cancelled", "expired")
    assert balance(app, world.a, world.resident_a) == 50
    with app.app_context():
        assert db.session.get(Gift, gift["id"]).stock_left == 5
        keys = [n.dedupe_key for n in db.session.query(Notification).order_by(Notification.id)]
        assert keys == [f"gift_ready:redemption:{rid}", f"gift_expiring:redemption:{rid}"]


def test_my_redemptions_and_the_pickup_qr(app, make, world):
    credit(app, world.a, world.resident_a, 50)
    gift = shelve(make, world)
    rid = redeem(make, world.resident_a, gift["id"]).json["id"]
    mine = make.call("GET", f"{API}/me/redemptions", world.resident_a).json
    assert [r["id"] for r in mine["items"]] == [rid]
    assert make.call("GET", f"{API}/me/redemptions", world.resident_b).json["total"] == 0
    png = make.call("GET", f"{API}/redemptions/{rid}/pickup-code.png", world.resident_a)
    assert png.status_code == 200 and png.content_type == "image/png"
    assert png.data.startswith(b"\x89PNG")
    other = make.call("GET", f"{API}/redemptions/{rid}/pickup-code.png", world.staff_a)
    assert other.status_code == 404


def test_staff_list_the_community_redemptions_with_names(app, make, world):
    credit(app, world.a, world.resident_a, 50)
    gift = shelve(make, world)
    rid = redeem(make, world.resident_a, gift["id"]).json["id"]
    url = f"{API}/communities/{world.a}/redemptions"
    listed = make.call("GET", url, world.staff_a, query_string={"status": "reserved"}).json
    assert [(r["id"], r["real_name"]) for r in listed["items"]] == [(rid, "张三明")]
    assert make.call("GET", url, world.staff_a,
                     query_string={"status": "fulfilled"}).json["total"] == 0
    assert make.call("GET", url, world.leader_a).status_code == 403


def test_a_repeated_redemption_with_the_same_key_happens_once(app, make, world):
    credit(app, world.a, world.resident_a, 50)
    gift = shelve(make, world)
    url = f"{API}/gifts/{gift['id']}/redemptions"
    first, again = (make.call("POST", url, world.resident_a, json={"quantity": 1},
                              headers={"Idempotency-Key": "tap-1"}) for _ in range(2))
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert balance(app, world.a, world.resident_a) == 40
    other = make.call("POST", url, world.resident_a, json={"quantity": 2},
                      headers={"Idempotency-Key": "tap-1"})
    assert other.status_code == 409 and other.json["error"]["code"] == "idempotency_key_reused"
