"""Manual adjustments need a second staff member (SPEC §6) and land in the audit log."""

from __future__ import annotations

import pytest

from backend.common.audit import AuditEntry
from backend.extensions import db


@pytest.fixture
def second_staff(make, world):
    return make.staff(world.a)


def request(make, world, amount, who=None):
    return make.call("POST", f"/api/v1/communities/{world.a}/points/adjustments",
                     who or world.staff_a,
                     json={"user_id": world.resident_a.id, "amount": amount,
                           "reason": "补录上月义诊时长"})


def balance(make, person):
    return make.call("GET", "/api/v1/me/points", person).json["balance"]


def test_a_second_staff_member_applies_the_adjustment(app, make, world, second_staff):
    created = request(make, world, 15)
    assert created.status_code == 201 and created.json["status"] == "pending"
    assert balance(make, world.resident_a) == 0
    approved = make.call("POST", f"/api/v1/points/adjustments/{created.json['id']}/approve",
                         second_staff)
    assert approved.status_code == 200 and approved.json["status"] == "applied"
    assert balance(make, world.resident_a) == 15
    again = make.call("POST", f"/api/v1/points/adjustments/{created.json['id']}/approve",
                      second_staff)
    assert again.status_code == 409 and balance(make, world.resident_a) == 15
    with app.app_context():
        actions = [(e.action, e.actor_id) for e in db.session.query(AuditEntry)]
    assert actions == [("adjustment.requested", world.staff_a.id),
                       ("adjustment.approved", second_staff.id)]


def test_the_requester_cannot_approve(make, world):
    created = request(make, world, 15)
    response = make.call("POST", f"/api/v1/points/adjustments/{created.json['id']}/approve",
                         world.staff_a)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "four_eyes_required"


def test_a_deduction_larger_than_the_balance_is_refused(make, world, second_staff):
    created = request(make, world, -5)
    response = make.call("POST", f"/api/v1/points/adjustments/{created.json['id']}/approve",
                         second_staff)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "insufficient_points"
    assert balance(make, world.resident_a) == 0


@pytest.mark.parametrize("body, field", [({"amount": 0}, "amount"), ({"reason": " "}, "reason"),
                                         ({"amount": "10"}, "amount")])
def test_bad_adjustments_are_validation_errors(make, world, body, field):
    payload = {"user_id": world.resident_a.id, "amount": 10, "reason": "原因", **body}
    response = make.call("POST", f"/api/v1/communities/{world.a}/points/adjustments",
                         world.staff_a, json=payload)
    assert response.status_code == 422 and field in response.json["error"]["details"]["fields"]


def test_only_staff_of_the_community_adjust_its_residents(make, world):
    assert request(make, world, 5, who=world.staff_b).status_code == 403
    assert request(make, world, 5, who=world.leader_a).status_code == 403
    outsider = make.call("POST", f"/api/v1/communities/{world.a}/points/adjustments",
                         world.staff_a, json={"user_id": world.resident_b.id, "amount": 5,
                                              "reason": "x"})
    assert outsider.status_code == 409 and outsider.json["error"]["code"] == "not_a_resident"


def test_concurrent_approvals_credit_once(app, make, world, second_staff, served):
    import requests

    from tests.conftest import all_at_once

    created = request(make, world, 20)
    url = f"{served}/points/adjustments/{created.json['id']}/approve"
    answers = all_at_once([
        lambda: requests.post(url, headers=second_staff.headers, timeout=30)] * 12)
    assert sorted(a.status_code for a in answers) == [200] + [409] * 11
    assert balance(make, world.resident_a) == 20
