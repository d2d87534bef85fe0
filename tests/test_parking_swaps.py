"""Swap requests and the leader's edits (SPEC §8): every refusal, and the hard rules
re-checked at each step (``swap_conflict``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
import time_machine

from backend.extensions import db
from backend.notify.models import Notification
from backend.parking.models import Assignment
from tests.parking_helpers import parking_team, roster, tomorrow

TWO_SHIFTS = [{"name": "早班", "start": "07:00", "end": "15:00", "needed": 1},
              {"name": "中班", "start": "15:00", "end": "23:00", "needed": 1}]


@pytest.fixture
def s(app, make, world):
    """Two days of 早班/中班; A holds day 1 早班, B day 1 中班, C nothing, leader day 2."""
    p = parking_team(make, world, members=3, shifts=TWO_SHIFTS)
    s = SimpleNamespace(p=p, leader=p.leader, a=p.members[0], b=p.members[1], c=p.members[2])
    first = tomorrow()
    body = roster(make, p, first, first + timedelta(days=1))
    s.roster = body["id"]
    slots = {(x["date"], x["shift"]): x["id"] for x in body["assignments"] + body["unfilled"]}
    day1, day2 = first.isoformat(), (first + timedelta(days=1)).isoformat()
    s.early1, s.late1 = slots[(day1, "早班")], slots[(day1, "中班")]
    s.early2, s.late2 = slots[(day2, "早班")], slots[(day2, "中班")]
    with app.app_context():
        for aid, holder in ((s.early1, s.a), (s.late1, s.b), (s.early2, s.leader),
                            (s.late2, s.leader)):
            db.session.get(Assignment, aid).user_id = holder.id
        db.session.commit()
    return s


def ask(make, s, aid, who, to):
    return make.call("POST", f"/api/v1/assignments/{aid}/swap-requests", who,
                     json={"to_user_id": to.id})


def act(make, swap_id, verb, who):
    return make.call("POST", f"/api/v1/swap-requests/{swap_id}/{verb}", who)


def holder(app, aid):
    with app.app_context():
        return db.session.get(Assignment, aid).user_id


def code(response):
    return response.status_code, response.json["error"]["code"]


def test_request_accept_approve_moves_the_shift_and_tells_the_receiver(app, make, s):
    asked = ask(make, s, s.early1, s.a, s.c)
    assert asked.status_code == 201
    assert asked.json["status"] == "pending" and asked.json["to_user_id"] == s.c.id
    with app.app_context():
        notice = db.session.query(Notification).filter_by(template_key="swap_request",
                                                          user_id=s.c.id).one()
        assert notice.data == {"swap_request_id": asked.json["id"]}
    assert act(make, asked.json["id"], "accept", s.c).json["status"] == "accepted"
    assert holder(app, s.early1) == s.a.id  # still A's until the leader approves
    approved = act(make, asked.json["id"], "approve", s.leader)
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    assert holder(app, s.early1) == s.c.id


def test_a_swap_breaking_the_rest_rule_is_refused(make, s):
    # B holds 中班 15:00–23:00 on day 1; 早班 ends at 15:00: no rest at all.
    assert code(ask(make, s, s.early1, s.a, s.b)) == (409, "swap_conflict")


def test_a_swap_onto_an_unavailable_day_is_refused(make, s):
    make.call("PUT", f"/api/v1/teams/{s.p.team}/members/{s.c.id}/availability", s.c,
              json={"unavailable": [tomorrow().isoformat()]})
    response = ask(make, s, s.early1, s.a, s.c)
    assert code(response) == (409, "swap_conflict")
    assert response.json["error"]["details"]["rules"] == ["unavailable"]


def test_a_swap_over_the_weekly_maximum_is_refused(make, s):
    make.call("PUT", f"/api/v1/teams/{s.p.team}/members/{s.c.id}/availability", s.c,
              json={"max_shifts_per_week": 0})
    response = ask(make, s, s.early1, s.a, s.c)
    assert code(response) == (409, "swap_conflict")
    assert response.json["error"]["details"]["rules"] == ["weekly_max"]


def test_a_conflict_arising_before_acceptance_is_refused_then(app, make, s):
    swap = ask(make, s, s.early1, s.a, s.c).json["id"]
    assert make.call("PATCH", f"/api/v1/assignments/{s.late1}", s.leader,
                     json={"user_id": s.c.id}).status_code == 200
    assert code(act(make, swap, "accept", s.c)) == (409, "swap_conflict")
    assert holder(app, s.early1) == s.a.id


def test_a_conflict_arising_before_approval_is_refused_then(app, make, s):
    swap = ask(make, s, s.early1, s.a, s.c).json["id"]
    act(make, swap, "accept", s.c)
    make.call("PATCH", f"/api/v1/assignments/{s.late1}", s.leader, json={"user_id": s.c.id})
    assert code(act(make, swap, "approve", s.leader)) == (409, "swap_conflict")
    assert holder(app, s.early1) == s.a.id


def test_only_the_holder_may_ask(make, s):
    assert code(ask(make, s, s.early1, s.b, s.c)) == (403, "forbidden")


def test_nobody_swaps_with_themselves(make, s):
    assert ask(make, s, s.early1, s.a, s.a).status_code == 422


def test_the_other_must_be_in_the_team(make, s):
    outsider = s.p.world.resident_a
    assert code(ask(make, s, s.early1, s.a, outsider)) == (409, "not_a_team_member")


def test_one_open_request_per_shift(make, s):
    assert ask(make, s, s.early1, s.a, s.c).status_code == 201
    assert code(ask(make, s, s.early1, s.a, s.leader)) == (409, "swap_already_requested")


def test_only_the_invited_member_accepts(make, s):
    swap = ask(make, s, s.early1, s.a, s.c).json["id"]
    assert code(act(make, swap, "accept", s.b)) == (403, "forbidden")
    assert code(act(make, swap, "accept", s.a)) == (403, "forbidden")


def test_accepting_twice_is_refused(make, s):
    swap = ask(make, s, s.early1, s.a, s.c).json["id"]
    act(make, swap, "accept", s.c)
    assert code(act(make, swap, "accept", s.c)) == (409, "swap_not_pending")


def test_only_a_leader_or_staff_approves(make, s):
    swap = ask(make, s, s.early1, s.a, s.c).json["id"]
    act(make, swap, "accept", s.c)
    assert code(act(make, swap, "approve", s.c)) == (403, "forbidden")
    assert code(act(make, swap, "approve", s.a)) == (403, "forbidden")
    assert act(make, swap, "approve", s.p.world.staff_a).status_code == 200


def test_approving_before_acceptance_is_refused(make, s):
    swap = ask(make, s, s.early1, s.a, s.c).json["id"]
    assert code(act(make, swap, "approve", s.leader)) == (409, "swap_not_accepted")


def test_a_declined_request_cannot_be_accepted(make, s):
    swap = ask(make, s, s.early1, s.a, s.c).json["id"]
    assert act(make, swap, "decline", s.c).json["status"] == "declined"
    assert code(act(make, swap, "accept", s.c)) == (409, "swap_not_pending")
    assert ask(make, s, s.early1, s.a, s.c).status_code == 201  # may ask again


def test_a_request_is_stale_once_the_leader_moved_the_shift(app, make, s):
    swap = ask(make, s, s.early1, s.a, s.c).json["id"]
    make.call("PATCH", f"/api/v1/assignments/{s.early1}", s.leader,
              json={"user_id": s.leader.id})
    assert code(act(make, swap, "accept", s.c)) == (409, "swap_not_pending")


def test_a_started_shift_cannot_be_swapped(app, make, s):
    with app.app_context():
        starts = db.session.get(Assignment, s.early1).starts_at
    with time_machine.travel(starts, tick=False):
        a = make.relogin(s.a)
        assert code(ask(make, s, s.early1, a, s.c)) == (409, "shift_started")


def test_a_draft_roster_has_no_swaps(app, make, s):
    first = tomorrow() + timedelta(days=5)
    draft = roster(make, s.p, first, first, publish=False)
    mine = next((a for a in draft["assignments"] if a["user_id"] != s.c.id), None)
    holder_person = next(x for x in (s.a, s.b, s.c, s.leader) if x.id == mine["user_id"])
    other = s.c if holder_person is not s.c else s.a
    assert code(ask(make, s, mine["id"], holder_person, other)) == (409,
                                                                    "roster_not_published")


def test_another_communitys_shift_is_not_found(make, s):
    stranger = s.p.world.resident_b
    assert code(ask(make, s, s.early1, stranger, s.c)) == (404, "not_found")


# --- leader edits ----------------------------------------------------------------------------


def test_the_leader_moves_a_shift_under_the_same_rules(app, make, s):
    moved = make.call("PATCH", f"/api/v1/assignments/{s.early1}", s.leader,
                      json={"user_id": s.c.id})
    assert moved.status_code == 200 and moved.json["user_id"] == s.c.id
    refused = make.call("PATCH", f"/api/v1/assignments/{s.late1}", s.leader,
                        json={"user_id": s.c.id})
    assert code(refused) == (409, "swap_conflict")
    assert holder(app, s.late1) == s.b.id


def test_the_leader_empties_a_shift_and_it_is_listed_unfilled(make, s):
    emptied = make.call("PATCH", f"/api/v1/assignments/{s.early1}", s.leader,
                        json={"user_id": None})
    assert emptied.status_code == 200 and emptied.json["user_id"] is None
    body = make.call("GET", f"/api/v1/rosters/{s.roster}", s.leader).json
    assert s.early1 in [u["id"] for u in body["unfilled"]]


def test_members_cannot_edit_the_roster(make, s):
    response = make.call("PATCH", f"/api/v1/assignments/{s.early1}", s.a,
                         json={"user_id": s.c.id})
    assert code(response) == (403, "forbidden")


def test_edits_only_to_team_members(make, s):
    response = make.call("PATCH", f"/api/v1/assignments/{s.early1}", s.leader,
                         json={"user_id": s.p.world.resident_a.id})
    assert code(response) == (409, "not_a_team_member")


def test_a_started_shift_cannot_be_edited(app, make, s):
    with app.app_context():
        starts = db.session.get(Assignment, s.early1).starts_at
    with time_machine.travel(starts + timedelta(minutes=1), tick=False):
        leader = make.relogin(s.leader)
        response = make.call("PATCH", f"/api/v1/assignments/{s.early1}", leader,
                             json={"user_id": s.c.id})
        assert code(response) == (409, "shift_started")


def test_swap_times_are_real_datetimes(make, s):
    body = ask(make, s, s.early1, s.a, s.c).json
    starts = datetime.fromisoformat(body["assignment"]["starts_at"])
    assert starts.utcoffset() == timedelta(hours=8) and starts.hour == 7
