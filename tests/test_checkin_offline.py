"""Offline batches (SPEC §5): merged deterministically — the same scans give the same
attendance whether sent live in time order or uploaded later shuffled and duplicated."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.checkin.models import Attendance, Scan
from backend.extensions import db
from tests.checkin_support import personal_code, scan_body
from tests.conftest import all_at_once

START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)
FIELDS = ("checked_in_at", "checked_out_at", "minutes", "status")


def door_events(app, resident_ids, offsets, start=START):
    """(scanned_at, body) for each (resident, direction, minutes after start - 40)."""
    events = []
    for resident_index, direction, minute in offsets:
        at = start - timedelta(minutes=40) + timedelta(minutes=minute)
        code = personal_code(app, resident_ids[resident_index], at)
        events.append((at, scan_body(code, direction, scanned_at=at)))
    return events


def attendances(app, activity, start=START):
    """Each resident's attendance, times relative to the activity's start."""
    def relative(value):
        return value - start if isinstance(value, datetime) else value
    with app.app_context():
        rows = db.session.query(Attendance).filter_by(activity_id=activity).all()
        return {row.user_id: tuple(relative(getattr(row, f)) for f in FIELDS) for row in rows}


def prepared(make, world, residents, start=START):
    activity = make.activity(world.team_a, starts_at=start, ends_at=start + timedelta(hours=2))
    for person in residents:
        make.call("POST", f"/api/v1/activities/{activity}/signups", person)
    return activity


scan_plans = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(["in", "out"]), st.integers(0, 220)),
    min_size=1, max_size=10)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=scan_plans, seed=st.integers(0, 2**16))
def test_shuffled_duplicated_batch_equals_the_live_stream(app, make, world, plan, seed):
    residents = [world.resident_a, make.resident(world.a, "李小龙"),
                 make.resident(world.a, "王小丫")]
    # A day apart, so that signing up for both is no time conflict.
    later = START + timedelta(days=1)
    live, offline = prepared(make, world, residents), prepared(make, world, residents, later)
    ids = [p.id for p in residents]
    for at, body in sorted(door_events(app, ids, plan),
                           key=lambda e: (e[0], e[1]["direction"] != "in")):
        with time_machine.travel(at, tick=False):
            live_body = {k: v for k, v in body.items() if k != "scanned_at"}
            assert make.call("POST", f"/api/v1/activities/{live}/scans", world.leader_a,
                             json=live_body).status_code == 200
    bodies = [body for _, body in door_events(app, ids, plan, later)]
    shuffled = bodies + random.Random(seed).sample(bodies, k=len(bodies) // 2)
    random.Random(seed + 1).shuffle(shuffled)
    with time_machine.travel(later + timedelta(hours=5), tick=False):
        response = make.call("POST", f"/api/v1/activities/{offline}/scans/batch",
                             world.leader_a, json={"scans": shuffled})
    assert response.status_code == 200
    assert len(response.get_json()["results"]) == len(shuffled)
    assert attendances(app, offline, later) == attendances(app, live)


def test_batch_answers_in_the_order_sent_and_duplicates_are_no_ops(app, make, world):
    activity = prepared(make, world, [world.resident_a])
    entry_at, exit_at = START, START + timedelta(minutes=75)
    entry = scan_body(personal_code(app, world.resident_a.id, entry_at), "in",
                      scanned_at=entry_at)
    exit_ = scan_body(personal_code(app, world.resident_a.id, exit_at), "out",
                      scanned_at=exit_at)
    with time_machine.travel(START + timedelta(hours=3), tick=False):
        results = make.call("POST", f"/api/v1/activities/{activity}/scans/batch",
                            world.leader_a, json={"scans": [exit_, entry, exit_]}
                            ).get_json()["results"]
    assert [r["result"] for r in results] == ["ok", "ok", "ok"]
    assert results[0] == results[2]
    assert results[0]["attendance"]["minutes"] == 75
    with app.app_context():
        assert db.session.query(Scan).filter_by(activity_id=activity).count() == 2


def test_batch_with_a_scan_older_than_48_hours_is_refused_whole(app, make, world):
    activity = prepared(make, world, [world.resident_a])
    at = START
    body = scan_body(personal_code(app, world.resident_a.id, at), "in", scanned_at=at)
    fresh = scan_body(personal_code(app, world.resident_a.id, at + timedelta(hours=2)), "out",
                      scanned_at=at + timedelta(hours=2))
    with time_machine.travel(at + timedelta(hours=49), tick=False):
        response = make.call("POST", f"/api/v1/activities/{activity}/scans/batch",
                             world.leader_a, json={"scans": [fresh, body]})
    assert response.status_code == 409
    assert response.get_json()["error"]["details"] == {"indexes": [1]}
    with app.app_context():
        assert db.session.query(Scan).count() == 0


@pytest.mark.parametrize("body", [{}, {"scans": []}, {"scans": "x"}, {"scans": [{}]},
                                  {"scans": [{"code": "x", "direction": "in"}] * 501}])
def test_bad_batches_are_validation_errors(make, world, body):
    activity = make.activity(world.team_a)
    response = make.call("POST", f"/api/v1/activities/{activity}/scans/batch", world.leader_a,
                         json=body)
    assert response.status_code == 422


def test_two_leaders_scanning_the_same_code_at_once_record_one_check_in(
        app, make, world, served):
    leader_2 = make.member(world.team_a, world.a, real_name="钱二")
    from backend.communities.models import TeamMember, TeamRole
    with app.app_context():
        db.session.query(TeamMember).filter_by(user_id=leader_2.id).update(
            {"role": TeamRole.LEADER})
        db.session.commit()
    activity = make.activity(world.team_a, starts_at=datetime.now(UTC) + timedelta(minutes=5))
    make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_a)
    code = personal_code(app, world.resident_a.id)

    def by(leader, n):
        def call():
            return requests.post(f"{served}/activities/{activity}/scans",
                                 json=scan_body(code, "in", scan_id=f"dev-{leader.id}-{n}"),
                                 headers=leader.headers, timeout=60).json()["result"]
        return call
    results = all_at_once([by(world.leader_a, n) for n in range(4)]
                          + [by(leader_2, n) for n in range(4)])
    assert sorted(results) == ["already_in"] * 7 + ["ok"]
    with app.app_context():
        assert db.session.query(Attendance).filter_by(activity_id=activity).count() == 1
        assert db.session.query(Scan).filter_by(activity_id=activity).count() == 8


def test_the_same_scan_id_sent_concurrently_is_recorded_once(app, make, world, served):
    activity = make.activity(world.team_a, starts_at=datetime.now(UTC) + timedelta(minutes=5))
    make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_a)
    body = scan_body(personal_code(app, world.resident_a.id), "in", scan_id="retry-storm")

    def call():
        return requests.post(f"{served}/activities/{activity}/scans", json=body,
                             headers=world.leader_a.headers, timeout=60).json()
    answers = all_at_once([call] * 8)
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["result"] == "ok"
    with app.app_context():
        assert db.session.query(Scan).filter_by(activity_id=activity).count() == 1
