"""Scans at the door (SPEC §5): every result word, replays, windows, walk-ins, offline."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

import pytest
import time_machine

from backend.checkin.models import Scan
from backend.common.clock import now
from backend.extensions import db
from tests.checkin_support import personal_code, poster_code, scan, scan_body

START = now().replace(microsecond=0) + timedelta(days=2)


@pytest.fixture
def door(app, make, world):
    """An activity starting at START with resident_a signed up; the clock at START."""
    activity = make.activity(world.team_a, starts_at=START, ends_at=START + timedelta(hours=2))
    assert make.call("POST", f"/api/v1/activities/{activity}/signups",
                     world.resident_a).status_code == 201
    with time_machine.travel(START, tick=False) as traveller:
        yield activity, traveller


def answer_of(make, who, activity, code, direction="in", **kwargs):
    response = scan(make, who, activity, code, direction, **kwargs)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_in_then_out_gives_ok_and_the_attendance(app, make, world, door):
    activity, traveller = door
    first = answer_of(make, world.leader_a, activity, personal_code(app, world.resident_a.id))
    assert first["result"] == "ok"
    assert first["attendance"]["checked_in_at"] is not None
    assert first["attendance"]["status"] == "open"
    traveller.shift(timedelta(minutes=90))
    out = answer_of(make, world.leader_a, activity, personal_code(app, world.resident_a.id), "out")
    assert out["result"] == "ok"
    assert out["attendance"]["minutes"] == 90


def test_second_entry_is_already_in_and_second_exit_is_already_out(app, make, world, door):
    activity, traveller = door
    code = personal_code(app, world.resident_a.id)
    answer_of(make, world.leader_a, activity, code)
    assert answer_of(make, world.leader_a, activity, code)["result"] == "already_in"
    traveller.shift(timedelta(minutes=60))
    later = personal_code(app, world.resident_a.id)
    assert answer_of(make, world.leader_a, activity, later, "out")["result"] == "ok"
    assert answer_of(make, world.leader_a, activity, later, "out")["result"] == "already_out"


def test_a_later_exit_extends_the_time_served(app, make, world, door):
    activity, traveller = door
    answer_of(make, world.leader_a, activity, personal_code(app, world.resident_a.id))
    traveller.shift(timedelta(minutes=30))
    answer_of(make, world.leader_a, activity, personal_code(app, world.resident_a.id), "out")
    traveller.shift(timedelta(minutes=30))
    again = answer_of(make, world.leader_a, activity, personal_code(app, world.resident_a.id),
                      "out")
    assert again["result"] == "ok" and again["attendance"]["minutes"] == 60


def test_exit_without_entry_is_not_checked_in(app, make, world, door):
    activity, _ = door
    answer = answer_of(make, world.leader_a, activity, personal_code(app, world.resident_a.id),
                       "out")
    assert answer["result"] == "not_checked_in"


def test_resident_not_signed_up_is_refused(app, make, world, door):
    activity, _ = door
    neighbour = make.resident(world.a, "李小龙")
    answer = answer_of(make, world.leader_a, activity, personal_code(app, neighbour.id))
    assert answer["result"] == "not_signed_up"
    assert answer["resident"]["display_name"] == "李*龙"
    assert answer["attendance"] is None


def test_a_genuine_code_naming_no_user_is_an_envelope_not_a_crash(app, make, world, door):
    # Only a deleted user could hold one; the scan row cannot name them (foreign key), and
    # the database's refusal reaches the leader as the usual 409 envelope on either database.
    activity, _ = door
    response = scan(make, world.leader_a, activity, personal_code(app, 10**6))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    with app.app_context():
        assert db.session.query(Scan).filter_by(activity_id=activity).count() == 0


def test_walk_ins_are_accepted_where_the_activity_allows_them(app, make, world):
    activity = make.activity(world.team_a, starts_at=START, walk_ins_allowed=True)
    neighbour = make.resident(world.a, "李小龙")
    with time_machine.travel(START, tick=False):
        answer = answer_of(make, world.leader_a, activity, personal_code(app, neighbour.id))
        stranger = answer_of(make, world.leader_a, activity,
                             personal_code(app, world.resident_b.id))
    assert answer["result"] == "ok" and answer["attendance"]["walk_in"] is True
    assert stranger["result"] == "not_signed_up"  # walk-ins are for the community's residents


@pytest.mark.parametrize("spoil", [
    pytest.param(lambda code: code[:-1] + ("A" if code[-1] != "A" else "B"), id="forged-sig"),
    pytest.param(lambda code: code[:40], id="truncated"),
    pytest.param(lambda code: "hello world", id="garbled"),
    pytest.param(lambda code: "L1" + "!" * 20, id="not-base32"),
    pytest.param(lambda code: "L1", id="empty-body"),
])
def test_forged_truncated_and_garbled_codes_are_invalid(app, make, world, door, spoil):
    activity, _ = door
    answer = answer_of(make, world.leader_a, activity,
                       spoil(personal_code(app, world.resident_a.id)))
    assert answer == {"result": "invalid_code", "attendance": None, "resident": None}


def test_altered_payload_with_the_original_signature_is_invalid(app, make, world, door):
    activity, _ = door
    text = personal_code(app, world.resident_a.id)
    blob = bytearray(base64.b32decode(text[2:] + "=" * (-len(text[2:]) % 8)))
    blob[1:5] = world.leader_a.id.to_bytes(4, "big")  # claim to be someone else
    altered = "L1" + base64.b32encode(bytes(blob)).decode().rstrip("=")
    assert answer_of(make, world.leader_a, activity, altered)["result"] == "invalid_code"


def test_a_poster_code_is_not_a_personal_code(app, make, world, door):
    activity, _ = door
    assert answer_of(make, world.leader_a, activity,
                     poster_code(app, activity))["result"] == "invalid_code"


def test_a_screenshot_is_useless_two_minutes_later(app, make, world, door):
    activity, traveller = door
    old = personal_code(app, world.resident_a.id)
    traveller.shift(timedelta(minutes=2))
    answer = answer_of(make, world.leader_a, activity, old)
    assert answer["result"] == "expired_code"
    assert answer["resident"]["id"] == world.resident_a.id


def test_scans_outside_the_window_are_refused(app, make, world, door):
    activity, traveller = door
    traveller.move_to(START - timedelta(minutes=31))
    too_early = answer_of(make, world.leader_a, activity, personal_code(app, world.resident_a.id))
    traveller.move_to(START - timedelta(minutes=30))
    on_time = answer_of(make, world.leader_a, activity, personal_code(app, world.resident_a.id))
    traveller.move_to(START + timedelta(hours=4, seconds=1))
    too_late = answer_of(make, world.leader_a, activity, personal_code(app, world.resident_a.id),
                         "out")
    assert (too_early["result"], on_time["result"], too_late["result"]) == (
        "outside_window", "ok", "outside_window")


def test_a_replayed_scan_id_answers_identically_and_records_nothing(app, make, world, door):
    activity, traveller = door
    body = scan_body(personal_code(app, world.resident_a.id), "in", scan_id="dev1-0001")
    url = f"/api/v1/activities/{activity}/scans"
    first = make.call("POST", url, world.leader_a, json=body).get_json()
    traveller.shift(timedelta(minutes=30))
    answer_of(make, world.leader_a, activity, personal_code(app, world.resident_a.id), "out")
    replay = make.call("POST", url, world.leader_a, json=body).get_json()
    assert replay == first
    with app.app_context():
        assert db.session.query(Scan).filter_by(activity_id=activity).count() == 2


def test_every_scan_is_kept_refused_ones_too(app, make, world, door):
    activity, _ = door
    answer_of(make, world.leader_a, activity, "garbage")
    answer_of(make, world.leader_a, activity, personal_code(app, world.resident_a.id), "out")
    answer_of(make, world.leader_a, activity, personal_code(app, world.resident_a.id))
    with app.app_context():
        rows = db.session.query(Scan).filter_by(activity_id=activity).order_by(Scan.id).all()
        assert [r.result.value for r in rows] == ["invalid_code", "not_checked_in", "ok"]
        assert all(r.scanner_id == world.leader_a.id and r.received_at for r in rows)


def test_scans_of_a_draft_or_cancelled_activity_are_refused(app, make, world):
    draft = make.activity(world.team_a, published=False, starts_at=START)
    with time_machine.travel(START, tick=False):
        response = scan(make, world.leader_a, draft, personal_code(app, world.resident_a.id))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "activity_not_published"


@pytest.mark.parametrize("who, status", [
    ("leader_a2", 403), ("resident_a", 403), ("leader_b", 404), ("staff_b", 404),
    ("staff_a", 200), ("outsider", 404),
])
def test_only_the_team_leader_and_staff_may_scan(app, make, world, door, who, status):
    activity, _ = door
    response = scan(make, getattr(world, who), activity, personal_code(app, world.resident_a.id))
    assert response.status_code == status


def test_bad_scan_bodies_are_validation_errors(make, world, door):
    activity, _ = door
    url = f"/api/v1/activities/{activity}/scans"
    for body in ({}, {"code": "x", "direction": "sideways", "scan_id": "a"},
                 {"code": "x", "direction": "in", "scan_id": "has space"},
                 {"code": "x", "direction": "in", "scan_id": "a", "scanned_at": "yesterday"}):
        response = make.call("POST", url, world.leader_a, json=body)
        assert response.status_code == 422, body
        assert response.get_json()["error"]["code"] == "validation_error"


def test_offline_scan_is_judged_at_scanned_at_not_at_upload(app, make, world, door):
    activity, traveller = door
    code = personal_code(app, world.resident_a.id)
    scanned_at = now()
    traveller.shift(timedelta(hours=3))
    answer = answer_of(make, world.leader_a, activity, code, scanned_at=scanned_at)
    assert answer["result"] == "ok"
    assert datetime.fromisoformat(answer["attendance"]["checked_in_at"]) == scanned_at


def test_uploads_later_than_48_hours_are_refused(app, make, world, door):
    activity, traveller = door
    code = personal_code(app, world.resident_a.id)
    scanned_at = now()
    traveller.shift(timedelta(hours=48, seconds=1))
    response = scan(make, world.leader_a, activity, code, scanned_at=scanned_at)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "upload_too_late"


def test_scans_from_the_future_are_validation_errors(app, make, world, door):
    activity, _ = door
    response = scan(make, world.leader_a, activity, personal_code(app, world.resident_a.id),
                    scanned_at=now() + timedelta(minutes=5))
    assert response.status_code == 422


def test_scans_are_rate_limited_per_leader(app, make, world, redis_url):
    activity = make.activity(world.team_a, starts_at=START)
    limit = app.config["SCAN_RATE_PER_MIN"]
    app.config["SCAN_RATE_PER_MIN"] = 3
    try:
        with time_machine.travel(START.replace(second=5), tick=False):
            code = personal_code(app, world.resident_a.id)
            statuses = [scan(make, world.leader_a, activity, code).status_code for _ in range(4)]
            other_leader = scan(make, world.staff_a, activity, code).status_code
    finally:
        app.config["SCAN_RATE_PER_MIN"] = limit
    assert statuses == [200, 200, 200, 429]
    assert other_leader == 200
