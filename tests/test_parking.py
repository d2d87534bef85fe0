"""Parking duty over HTTP (SPEC §8): shift templates, availability, rosters, publishing."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from backend.common.clock import LOCAL_TZ
from backend.communities.models import TeamCategory
from backend.extensions import db
from backend.notify.models import Notification
from tests.parking_helpers import THREE_SHIFTS, parking_team, roster, tomorrow
from tests.roster_checker import violations


@pytest.fixture
def p(make, world):
    return parking_team(make, world)


def test_shift_templates_are_replaced_as_a_whole_and_may_cross_midnight(make, p):
    shifts = [{"name": "白班", "start": "08:00", "end": "20:00", "needed": 2},
              {"name": "夜班", "start": "20:00", "end": "08:00"}]
    response = make.call("PUT", f"/api/v1/teams/{p.team}/shift-templates", p.leader,
                         json={"shifts": shifts})
    assert response.status_code == 200
    assert response.json["shifts"] == [shifts[0], {**shifts[1], "needed": 1}]
    assert response.json["points_per_shift"] == 5  # unchanged when not given
    seen = make.call("GET", f"/api/v1/teams/{p.team}/shift-templates", p.members[0])
    assert seen.json["shifts"] == response.json["shifts"]


@pytest.mark.parametrize("shifts, field", [
    ([{"name": "早班", "start": "7:00", "end": "15:00"}], "start"),
    ([{"name": "早班", "start": "07:00", "end": "24:00"}], "end"),
    ([{"name": "早班", "start": "07:00", "end": "07:00"}], "end"),
    ([{"name": "早班", "start": "07:00", "end": "15:00", "needed": 0}], "needed"),
    ([], "shifts"),
])
def test_bad_shift_templates_are_refused(make, p, shifts, field):
    response = make.call("PUT", f"/api/v1/teams/{p.team}/shift-templates", p.leader,
                         json={"shifts": shifts})
    assert response.status_code == 422
    assert field in str(response.json["error"]["details"]["fields"])


def test_duplicate_shift_names_are_refused(make, p):
    twice = [THREE_SHIFTS[0], {**THREE_SHIFTS[1], "name": "早班"}]
    response = make.call("PUT", f"/api/v1/teams/{p.team}/shift-templates", p.leader,
                         json={"shifts": twice})
    assert response.status_code == 422


def test_only_parking_teams_keep_rosters(make, world):
    response = make.call("PUT", f"/api/v1/teams/{world.team_a}/shift-templates",
                         world.leader_a, json={"shifts": THREE_SHIFTS})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "not_parking_team"


def test_a_member_sets_their_own_availability_and_preferences(make, p):
    me = p.members[0]
    body = {"unavailable": ["2026-12-24", "2026-12-25"], "max_shifts_per_week": 3,
            "preferences": {"no_night": True, "avoid_shifts": ["早班"]}}
    response = make.call("PUT", f"/api/v1/teams/{p.team}/members/{me.id}/availability", me,
                         json=body)
    assert response.status_code == 200
    assert response.json == {"team_id": p.team, "user_id": me.id, **body}
    by_leader = make.call("PUT", f"/api/v1/teams/{p.team}/members/{me.id}/availability",
                          p.leader, json={"max_shifts_per_week": 2})
    assert by_leader.status_code == 200 and by_leader.json["unavailable"] == []


def test_a_member_cannot_set_someone_elses_availability(make, p):
    other = p.members[1]
    response = make.call("PUT", f"/api/v1/teams/{p.team}/members/{other.id}/availability",
                         p.members[0], json={"max_shifts_per_week": 0})
    assert response.status_code == 403


def test_availability_of_someone_outside_the_team_is_not_found(make, p):
    response = make.call("PUT", f"/api/v1/teams/{p.team}/members/{p.world.resident_a.id}"
                         "/availability", p.leader, json={"max_shifts_per_week": 1})
    assert response.status_code == 404


def _as_checker_shifts(body) -> list[dict]:
    return [{"user_id": a["user_id"], "date": date.fromisoformat(a["date"]),
             "start": datetime.fromisoformat(a["starts_at"]),
             "end": datetime.fromisoformat(a["ends_at"])} for a in body["assignments"]]


def test_a_generated_roster_has_the_contract_shape_and_keeps_the_rules(make, p):
    away = p.members[0]
    first = tomorrow()
    make.call("PUT", f"/api/v1/teams/{p.team}/members/{away.id}/availability", away,
              json={"unavailable": [(first + timedelta(days=2)).isoformat()],
                    "max_shifts_per_week": 2})
    body = roster(make, p, first, first + timedelta(days=13), publish=False)
    assert body["status"] == "draft"
    assert set(body) >= {"id", "status", "assignments", "fairness", "unfilled"}
    assert set(body["assignments"][0]) >= {"id", "date", "shift", "user_id"}
    assert set(body["fairness"]) == {"min_shifts", "max_shifts", "night_min", "night_max"}
    assert body["unfilled"] == [] and len(body["assignments"]) == 14 * 3
    rules = {away.id: {"unavailable": {first + timedelta(days=2)}, "max_per_week": 2}}
    assert violations(_as_checker_shifts(body), rules) == []
    counts = Counter(a["user_id"] for a in body["assignments"])
    assert body["fairness"]["max_shifts"] == max(counts.values())
    assert body["fairness"]["min_shifts"] == min(counts.get(m.id, 0)
                                                 for m in [p.leader, *p.members])


def test_a_night_shift_has_real_times_across_midnight(make, p):
    first = tomorrow()
    body = roster(make, p, first, first, publish=False)
    night = next(a for a in body["assignments"] if a["shift"] == "夜班")
    starts, ends = (datetime.fromisoformat(night[k]) for k in ("starts_at", "ends_at"))
    assert (starts.hour, ends.hour) == (23, 7) and ends - starts == timedelta(hours=8)
    assert ends.astimezone(LOCAL_TZ).date() == first + timedelta(days=1)


def test_a_team_too_small_gets_an_honest_unfilled_list(make, world):
    p = parking_team(make, world, members=0)  # the leader alone
    first = tomorrow()
    body = roster(make, p, first, first + timedelta(days=1), publish=False)
    assert len(body["assignments"]) + len(body["unfilled"]) == 6
    assert body["unfilled"] and all(u["reason"] for u in body["unfilled"])
    assert all(set(u) >= {"id", "date", "shift", "reasons"} for u in body["unfilled"])
    assert violations(_as_checker_shifts(body), {}) == []


@pytest.mark.parametrize("days, code", [((0, -1), 422), ((-2, 0), 422), ((0, 62), 422),
                                        ((0, 61), 201)])
def test_bad_roster_ranges_are_refused(make, p, days, code):
    first = tomorrow()
    response = make.call("POST", f"/api/v1/teams/{p.team}/rosters", p.leader, json={
        "from": (first + timedelta(days=days[0])).isoformat(),
        "to": (first + timedelta(days=days[1])).isoformat()})
    assert response.status_code == code


def test_a_roster_needs_shift_templates(make, world):
    team = make.team(world.a, TeamCategory.PARKING)
    response = make.call("POST", f"/api/v1/teams/{team}/rosters", world.staff_a,
                         json={"from": tomorrow().isoformat(), "to": tomorrow().isoformat()})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "no_shift_templates"


def test_publishing_notifies_every_member_on_the_roster_once(app, make, p):
    first = tomorrow()
    body = roster(make, p, first, first + timedelta(days=6))
    assert body["status"] == "published"
    on_roster = {a["user_id"] for a in body["assignments"]}
    again = make.call("POST", f"/api/v1/rosters/{body['id']}/publish", p.leader)
    assert again.status_code == 409
    with app.app_context():
        notices = db.session.query(Notification).filter_by(template_key="roster_published")
        assert Counter(n.user_id for n in notices) == Counter(on_roster)


def test_overlapping_rosters_cannot_both_be_published(make, p):
    first = tomorrow()
    roster(make, p, first, first + timedelta(days=6))
    second = roster(make, p, first + timedelta(days=6), first + timedelta(days=8),
                    publish=False)
    response = make.call("POST", f"/api/v1/rosters/{second['id']}/publish", p.leader)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "roster_overlaps"


def test_the_next_roster_respects_rest_after_the_published_one(make, p):
    first = tomorrow()
    week_one = roster(make, p, first, first + timedelta(days=6))
    week_two = roster(make, p, first + timedelta(days=7), first + timedelta(days=13))
    both = {**week_one, "assignments": week_one["assignments"] + week_two["assignments"]}
    assert violations(_as_checker_shifts(both), {}) == []


def test_members_see_their_published_shifts_only(make, p):
    first = tomorrow()
    draft = roster(make, p, first + timedelta(days=10), first + timedelta(days=11),
                   publish=False)
    body = roster(make, p, first, first + timedelta(days=2))
    me = p.members[0]
    mine = make.call("GET", "/api/v1/me/shifts?per_page=100", me).json
    expected = sorted(a["id"] for a in body["assignments"] if a["user_id"] == me.id)
    assert sorted(s["id"] for s in mine["items"]) == expected
    assert make.call("GET", f"/api/v1/rosters/{draft['id']}", me).status_code == 403
    assert make.call("GET", f"/api/v1/rosters/{body['id']}", me).status_code == 200
    listed = make.call("GET", f"/api/v1/teams/{p.team}/rosters", me).json
    assert [r["id"] for r in listed["items"]] == [body["id"]]


def test_a_roster_too_large_to_generate_quickly_is_refused(make, p):
    many = [{"name": f"班{h}", "start": f"{h:02d}:00", "end": f"{(h + 2) % 24:02d}:00",
             "needed": 20} for h in range(0, 24, 2)]
    make.call("PUT", f"/api/v1/teams/{p.team}/shift-templates", p.leader, json={"shifts": many})
    first = tomorrow()
    response = make.call("POST", f"/api/v1/teams/{p.team}/rosters", p.leader, json={
        "from": first.isoformat(), "to": (first + timedelta(days=6)).isoformat()})
    assert response.status_code == 422  # 7 days × 12 shifts × 20 seats = 1,680 slots
