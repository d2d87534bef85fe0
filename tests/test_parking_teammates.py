"""The swap picker's list (issue 20): a team's other members, names masked as a leader sees
them, and who is free on the day — no shift of a published roster then, not marked
unavailable."""

from __future__ import annotations

from datetime import timedelta

from tests.parking_helpers import parking_team, roster, tomorrow

DAY = [{"name": "早班", "start": "07:00", "end": "15:00", "needed": 1}]


def test_teammates_are_masked_and_say_who_is_free_that_day(make, world):
    p = parking_team(make, world, members=3, shifts=DAY)
    asker, on_duty, away = p.members
    day = tomorrow()
    body = roster(make, p, day, day, publish=False)
    [seat] = body["assignments"]
    assert make.call("PATCH", f"/api/v1/assignments/{seat['id']}", p.leader,
                     json={"user_id": on_duty.id}).status_code == 200
    make.call("POST", f"/api/v1/rosters/{body['id']}/publish", p.leader)
    assert make.call("PUT", f"/api/v1/teams/{p.team}/members/{away.id}/availability", away,
                     json={"unavailable": [day.isoformat()]}).status_code == 200

    listed = make.call("GET", f"/api/v1/teams/{p.team}/teammates?date={day}", asker).json
    assert listed["total"] == 3  # everyone but the asker
    assert [(m["user_id"], m["display_name"], m["free"], m["busy_reason"])
            for m in listed["items"]] == [
        (p.leader.id, "赵*红", True, None),
        (on_duty.id, "队**号", False, "on_shift"),
        (away.id, "队**号", False, "unavailable")]

    next_day = make.call("GET", f"/api/v1/teams/{p.team}/teammates?date="
                                f"{day + timedelta(days=1)}", asker).json["items"]
    assert all(m["free"] for m in next_day)


def test_a_draft_roster_does_not_make_anyone_busy(make, world):
    p = parking_team(make, world, members=2, shifts=DAY)
    day = tomorrow()
    roster(make, p, day, day, publish=False)
    items = make.call("GET", f"/api/v1/teams/{p.team}/teammates?date={day}",
                      p.members[0]).json["items"]
    assert [m["free"] for m in items] == [True, True]


def test_teammates_need_a_date_and_a_parking_team(make, world):
    p = parking_team(make, world, members=1, shifts=DAY)
    missing = make.call("GET", f"/api/v1/teams/{p.team}/teammates", p.members[0])
    assert missing.status_code == 422 and "date" in missing.json["error"]["details"]["fields"]
    other = make.call("GET", f"/api/v1/teams/{world.team_a}/teammates?date={tomorrow()}",
                      world.leader_a)
    assert other.status_code == 409 and other.json["error"]["code"] == "not_parking_team"
