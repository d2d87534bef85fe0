"""Duty check-in at the post (SPEC §8): the printed code with the phone at the post, the
shift window's edges, one check-in per shift, duty points credited exactly once after the
two sign-offs, missed shifts and shift reminders."""

from __future__ import annotations

import io
from collections import Counter
from datetime import timedelta
from functools import partial
from types import SimpleNamespace

import pytest
import qrcode
import requests
import time_machine

from backend.common.clock import now
from backend.extensions import db
from backend.notify.models import Notification
from backend.parking.models import Assignment, AssignmentStatus
from backend.parking.tasks import remind_shifts, sweep_missed_shifts
from backend.points.models import Account, AccountKind, Transfer, TransferReason
from backend.schedule import run_all
from tests.conftest import ON_POSTGRES, all_at_once
from tests.parking_helpers import POST, parking_team, roster, tomorrow

EARLY_SHIFT = [{"name": "早班", "start": "07:00", "end": "15:00", "needed": 1}]


@pytest.fixture
def d(app, make, world):
    """Tomorrow's 早班 (07:00–15:00) is member A's; B is in the team too."""
    p = parking_team(make, world, members=2, shifts=EARLY_SHIFT, points=8)
    body = roster(make, p, tomorrow(), tomorrow())
    d = SimpleNamespace(p=p, a=p.members[0], b=p.members[1], shift=body["assignments"][0]["id"])
    with app.app_context():
        shift = db.session.get(Assignment, d.shift)
        shift.user_id = d.a.id
        d.starts, d.ends = shift.starts_at, shift.ends_at
        db.session.commit()
    d.code = make.call("GET", f"/api/v1/teams/{p.team}/post-code", p.leader).json["code"]
    return d


def check_in(make, who, code):
    return make.call("POST", "/api/v1/duty/checkins", who, json={"code": code,
                                                                 "location": POST})


def sign_off_and_approve(make, world, d):
    """The leader signs the month off and a staff member approves (the two people)."""
    month = f"{tomorrow():%Y-%m}"
    assert make.call("POST", f"/api/v1/teams/{d.p.team}/duty/confirm", make.relogin(d.p.leader),
                     json={"month": month}).status_code == 200
    return make.call("POST", "/api/v1/duty/approve", make.relogin(world.staff_a),
                     json={"ids": [d.shift]})


def duty_transfers(app, user_id):
    with app.app_context():
        account = db.session.query(Account).filter_by(kind=AccountKind.RESIDENT,
                                                      user_id=user_id).one_or_none()
        if account is None:
            return []
        return db.session.query(Transfer).filter_by(to_account_id=account.id,
                                                    reason=TransferReason.DUTY).all()


def test_the_post_code_png_is_the_qr_of_the_signed_code(make, d):
    response = make.call("GET", f"/api/v1/teams/{d.p.team}/post-code.png", d.p.leader)
    assert response.status_code == 200 and response.mimetype == "image/png"
    expected = qrcode.QRCode(border=4)
    expected.add_data(d.code)
    buffer = io.BytesIO()
    expected.make_image().save(buffer)
    assert response.data == buffer.getvalue()
    assert make.call("GET", f"/api/v1/teams/{d.p.team}/post-code.png", d.a).status_code == 403


@pytest.mark.parametrize("offset, expected", [
    (-timedelta(minutes=30, microseconds=1), 409),
    (-timedelta(minutes=30), 200),
    (timedelta(hours=8) - timedelta(microseconds=1), 200),
    (timedelta(hours=8), 409),
])
def test_check_in_opens_30_minutes_early_and_closes_at_the_end(make, d, offset, expected):
    with time_machine.travel(d.starts + offset, tick=False):
        response = check_in(make, make.relogin(d.a), d.code)
    assert response.status_code == expected, response.json
    if expected == 409:
        assert response.json["error"]["code"] == "outside_window"
    else:
        assert response.json["result"] == "ok" and response.json["points"] == 0
        assert response.json["assignment"]["status"] == "completed"


@pytest.mark.parametrize("tamper", [
    lambda code: code[:-1] + ("A" if code[-1] != "A" else "B"),
    lambda code: code.replace("duty:", "duty:9"),
    lambda code: code.split(".")[0],
    lambda code: "garbage",
])
def test_a_forged_or_altered_post_code_is_invalid(make, d, tamper):
    with time_machine.travel(d.starts + timedelta(hours=1), tick=False):
        response = check_in(make, make.relogin(d.a), tamper(d.code))
    assert (response.status_code, response.json["error"]["code"]) == (409, "invalid_code")


def test_a_member_who_is_not_on_duty_cannot_check_in(make, d):
    with time_machine.travel(d.starts + timedelta(hours=1), tick=False):
        response = check_in(make, make.relogin(d.b), d.code)
    assert (response.status_code, response.json["error"]["code"]) == (409, "not_on_duty")


def test_another_teams_post_code_does_not_check_in(make, world, d):
    other = parking_team(make, world, members=0, shifts=EARLY_SHIFT)
    code = make.call("GET", f"/api/v1/teams/{other.team}/post-code", other.leader).json["code"]
    with time_machine.travel(d.starts + timedelta(hours=1), tick=False):
        response = check_in(make, make.relogin(d.a), code)
    assert response.json["error"]["code"] == "not_on_duty"


def test_duty_points_are_credited_once_however_often_one_scans(app, make, world, d):
    with time_machine.travel(d.starts + timedelta(hours=1), tick=False):
        a = make.relogin(d.a)
        first = check_in(make, a, d.code)
        again = check_in(make, a, d.code)
    assert first.json["result"] == "ok"
    assert again.status_code == 200 and again.json["result"] == "already_checked_in"
    assert duty_transfers(app, d.a.id) == []  # nothing until the two sign-offs
    with time_machine.travel(d.ends + timedelta(hours=1), tick=False):
        approved = sign_off_and_approve(make, world, d)
        assert approved.status_code == 200 and approved.json["items"][0]["points"] == 8
        retried = make.call("POST", "/api/v1/duty/approve", make.relogin(world.staff_a),
                            json={"ids": [d.shift]})
        assert retried.status_code == 200
        a = make.relogin(d.a)
        assert check_in(make, a, d.code).status_code == 409  # the shift is over
    transfers = duty_transfers(app, d.a.id)
    assert [(t.amount, t.ref, t.idempotency_key) for t in transfers] == [
        (8, f"assignment:{d.shift}", f"duty-assignment-{d.shift}")]
    assert make.call("GET", "/api/v1/me/points", d.a).json["balance"] == 8


def test_concurrent_check_ins_credit_once(app, make, d, served):
    with app.app_context():  # the shift is on right now, so the served app needs no travel
        shift = db.session.get(Assignment, d.shift)
        shift.starts_at, shift.ends_at = now() - timedelta(hours=1), now() + timedelta(hours=7)
        db.session.commit()
    crowd = 20 if ON_POSTGRES else 6

    def scan():
        return requests.post(f"{served}/duty/checkins", json={"code": d.code, "location": POST},
                             headers=d.a.headers, timeout=60)

    responses = all_at_once([scan] * crowd)
    assert Counter(r.status_code for r in responses) == {200: crowd}
    assert Counter(r.json()["result"] for r in responses) == {"ok": 1,
                                                              "already_checked_in": crowd - 1}
    with app.app_context():
        assert db.session.get(Assignment, d.shift).status == AssignmentStatus.COMPLETED


@pytest.mark.postgres_only
def test_concurrent_approvals_credit_once(app, make, world, d, served):
    with time_machine.travel(d.starts + timedelta(hours=1), tick=False):
        check_in(make, make.relogin(d.a), d.code)
    with time_machine.travel(d.ends + timedelta(hours=1), tick=False):
        month = f"{tomorrow():%Y-%m}"
        make.call("POST", f"/api/v1/teams/{d.p.team}/duty/confirm", make.relogin(d.p.leader),
                  json={"month": month})
        staff = [make.relogin(world.staff_a), make.staff(world.a), make.staff(world.a)]
        responses = all_at_once([
            partial(requests.post, f"{served}/duty/approve", json={"ids": [d.shift]},
                    headers=person.headers, timeout=60) for person in staff * 4])
    assert Counter(r.status_code for r in responses) == {200: 12}
    assert [t.amount for t in duty_transfers(app, d.a.id)] == [8]


def test_a_shift_with_no_check_in_is_missed_and_the_leader_told_once(app, d):
    with app.app_context():
        with time_machine.travel(d.ends - timedelta(seconds=1), tick=False):
            assert sweep_missed_shifts() == 0
        with time_machine.travel(d.ends, tick=False):
            assert sweep_missed_shifts() == 1
            assert sweep_missed_shifts() == 0
        assert db.session.get(Assignment, d.shift).status == AssignmentStatus.MISSED
        told = db.session.query(Notification).filter(
            Notification.dedupe_key.like("duty_missed:%")).all()
        assert [(n.user_id, n.template_key) for n in told] == [(d.p.leader.id, "shift_reminder")]


def test_a_checked_in_shift_is_never_marked_missed(app, make, d):
    with time_machine.travel(d.starts, tick=False):
        check_in(make, make.relogin(d.a), d.code)
    with app.app_context(), time_machine.travel(d.ends + timedelta(hours=1), tick=False):
        sweep_missed_shifts()
        assert db.session.get(Assignment, d.shift).status == AssignmentStatus.COMPLETED


def test_the_member_is_reminded_two_hours_before_once(app, d):
    with app.app_context():
        with time_machine.travel(d.starts - timedelta(hours=2, seconds=1), tick=False):
            assert remind_shifts() == 0
        with time_machine.travel(d.starts - timedelta(hours=2), tick=False):
            assert remind_shifts() == 1
        with time_machine.travel(d.starts - timedelta(minutes=5), tick=False):
            assert remind_shifts() == 0
        reminded = db.session.query(Notification).filter_by(template_key="shift_reminder").all()
        assert [(n.user_id, n.dedupe_key) for n in reminded] == [
            (d.a.id, f"shift_reminder:{d.shift}:{d.a.id}")]


def test_the_schedule_runs_the_duty_sweeps(app, d):
    with app.app_context(), time_machine.travel(d.ends + timedelta(minutes=1), tick=False):
        report = run_all()
    assert report["parking-sweep_missed_shifts"] == 1
