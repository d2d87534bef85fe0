"""Volunteer hours at the edges (SPEC §5) and the leader's corrections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from backend.checkin.hours import served_minutes
from backend.checkin.models import AttendanceCorrection
from backend.extensions import db
from tests.checkin_support import personal_code, scan

EARLY = timedelta(minutes=30)
S = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
E = S + timedelta(hours=3)


@pytest.mark.parametrize("checked_in, checked_out, minutes", [
    (S, E, 180),  # on time
    (S - timedelta(hours=1), E, 210),  # early arrival counts 30 min at most
    (S - timedelta(minutes=20), S + timedelta(minutes=40), 60),  # early within the allowance
    (S + timedelta(minutes=15), E + timedelta(hours=2), 165),  # late arrival, late exit clipped
    (S, None, 0),  # no exit counts nothing
    (None, E, 0),
    (S + timedelta(minutes=10), S + timedelta(minutes=10, seconds=59), 0),  # whole minutes
    (S, S + timedelta(minutes=61, seconds=59), 61),
    (E + timedelta(minutes=10), E + timedelta(minutes=50), 0),  # came after the end
    (S - timedelta(hours=2), S - timedelta(hours=1), 0),  # left before the window
])
def test_served_minutes_edges(checked_in, checked_out, minutes):
    assert served_minutes(checked_in, checked_out, S, E, EARLY) == minutes


def test_activity_across_midnight_counts_time_on_both_days():
    starts = datetime(2026, 12, 31, 14, 0, tzinfo=UTC)  # 22:00 local
    ends = starts + timedelta(hours=4)  # 02:00 local, next day
    assert served_minutes(starts - timedelta(minutes=5), ends + timedelta(minutes=5),
                          starts, ends, EARLY) == 245


@pytest.fixture
def overnight(app, make, world):
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    activity = make.activity(world.team_a, starts_at=starts, ends_at=starts + timedelta(hours=4))
    make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_a)
    return activity, starts


def test_hours_through_the_api_are_clipped_and_exit_less_rows_count_nothing(
        app, make, world, overnight):
    activity, starts = overnight
    with time_machine.travel(starts - timedelta(minutes=45), tick=False) as traveller:
        traveller.move_to(starts - timedelta(minutes=29))
        scan(make, world.leader_a, activity, personal_code(app, world.resident_a.id))
        traveller.move_to(starts + timedelta(hours=5))
        answer = scan(make, world.leader_a, activity, personal_code(app, world.resident_a.id),
                      "out").get_json()
    assert answer["attendance"]["minutes"] == 29 + 240


def test_leader_correction_is_kept_with_author_and_reason(app, make, world, overnight):
    activity, starts = overnight
    with time_machine.travel(starts, tick=False):
        attendance = scan(make, world.leader_a, activity,
                          personal_code(app, world.resident_a.id)).get_json()["attendance"]
    response = make.call("PATCH", f"/api/v1/attendances/{attendance['id']}", world.leader_a,
                         json={"minutes": 200, "reason": "忘记签退，队长现场确认"})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["minutes"], body["served_minutes"], body["corrected_minutes"]) == (200, 0, 200)
    with app.app_context():
        correction = db.session.query(AttendanceCorrection).one()
        assert (correction.author_id, correction.minutes_before, correction.minutes_after,
                correction.reason) == (world.leader_a.id, 0, 200, "忘记签退，队长现场确认")


@pytest.mark.parametrize("who, status", [("leader_a2", 403), ("resident_a", 403),
                                         ("leader_b", 404), ("staff_a", 200)])
def test_who_may_correct(app, make, world, overnight, who, status):
    activity, starts = overnight
    with time_machine.travel(starts, tick=False):
        attendance = scan(make, world.leader_a, activity,
                          personal_code(app, world.resident_a.id)).get_json()["attendance"]
    response = make.call("PATCH", f"/api/v1/attendances/{attendance['id']}",
                         getattr(world, who), json={"minutes": 10, "reason": "修正"})
    assert response.status_code == status


def test_correction_needs_a_reason_and_sane_minutes(app, make, world, overnight):
    activity, starts = overnight
    with time_machine.travel(starts, tick=False):
        attendance = scan(make, world.leader_a, activity,
                          personal_code(app, world.resident_a.id)).get_json()["attendance"]
    url = f"/api/v1/attendances/{attendance['id']}"
    for body in ({"minutes": 10}, {"minutes": -1, "reason": "x"},
                 {"minutes": 24 * 60 + 1, "reason": "x"}, {"minutes": "10", "reason": "x"}):
        assert make.call("PATCH", url, world.leader_a, json=body).status_code == 422
    assert make.call("PATCH", "/api/v1/attendances/999999", world.leader_a,
                     json={"minutes": 1, "reason": "x"}).status_code == 404
