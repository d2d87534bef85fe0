"""Capacity under real concurrency: many residents, one served app, one database.

Run on PostgreSQL (row locks) with the SPEC's 200-for-30 figures and on SQLite (one
writer at a time) with a smaller crowd: the promise is the same on both.
"""

from __future__ import annotations

from collections import Counter

import pytest
import requests
from sqlalchemy.orm import undefer

from backend.activities.models import Activity, Signup, SignupStatus
from backend.extensions import db
from backend.notify.models import Notification
from tests.conftest import ON_POSTGRES, all_at_once

CROWD, SEATS = (200, 30) if ON_POSTGRES else (60, 10)


def post(url, person, method="POST"):
    def call():
        with requests.Session() as session:
            return session.request(method, url, headers=person.headers, timeout=60)
    return call


def counts(app, activity_id):
    with app.app_context():
        activity = db.session.get(Activity, activity_id,
                                  options=[undefer(Activity.waitlist_count)])
        rows = db.session.query(Signup).filter_by(activity_id=activity_id).all()
        return activity, rows


@pytest.fixture
def crowd(make, world):
    return [make.resident(world.a, f"居民{i}") for i in range(CROWD)]


def test_concurrent_signups_never_overbook(app, make, world, served, crowd):
    aid = make.activity(world.team_a, capacity=SEATS)
    responses = all_at_once([post(f"{served}/activities/{aid}/signups", p) for p in crowd])
    assert Counter(r.status_code for r in responses) == {201: CROWD}
    statuses = Counter(r.json()["status"] for r in responses)
    assert statuses == {"confirmed": SEATS, "waitlisted": CROWD - SEATS}
    positions = sorted(r.json()["waitlist_position"] for r in responses
                       if r.json()["status"] == "waitlisted")
    assert positions == list(range(1, CROWD - SEATS + 1))
    activity, rows = counts(app, aid)
    assert activity.confirmed_count == SEATS and activity.waitlist_count == CROWD - SEATS
    assert Counter(r.status for r in rows) == {SignupStatus.CONFIRMED: SEATS,
                                               SignupStatus.WAITLISTED: CROWD - SEATS}
    assert len({r.waitlist_seq for r in rows if r.waitlist_seq is not None}) == CROWD - SEATS


def test_concurrent_cancellations_promote_one_each(app, make, world, served, crowd):
    aid = make.activity(world.team_a, capacity=SEATS)
    for person in crowd:  # in order, so that the waitlist order is known
        make.call("POST", f"/api/v1/activities/{aid}/signups", person)
    leaving = crowd[: SEATS // 2 + 5]
    leavers_on_waitlist = [p for p in leaving if crowd.index(p) >= SEATS]
    responses = all_at_once([post(f"{served}/activities/{aid}/signups/me", p, "DELETE")
                             for p in leaving])
    assert Counter(r.status_code for r in responses) == {200: len(leaving)}
    freed = len(leaving) - len(leavers_on_waitlist)
    activity, rows = counts(app, aid)
    assert activity.confirmed_count == SEATS
    by_user = {r.user_id: r for r in rows}
    promoted = [p for p in crowd[SEATS:] if p not in leaving
                and by_user[p.id].status == SignupStatus.CONFIRMED]
    waiting = [p for p in crowd[SEATS:] if p not in leaving]
    assert promoted == waiting[:freed]  # exactly one each, first come first served
    with app.app_context():
        notices = db.session.query(Notification).filter_by(template_key="waitlist_promoted")
        assert sorted(n.user_id for n in notices) == sorted(p.id for p in promoted)


def test_one_resident_tapping_many_times_gets_one_signup(app, make, world, served):
    aid = make.activity(world.team_a, capacity=SEATS)
    taps = all_at_once([post(f"{served}/activities/{aid}/signups", world.resident_a)
                        for _ in range(20)])
    assert sorted(r.status_code for r in taps) == [200] * 19 + [201]
    assert len({r.json()["id"] for r in taps}) == 1
    activity, rows = counts(app, aid)
    assert len(rows) == 1 and activity.confirmed_count == 1


def test_a_rush_with_cancellations_keeps_the_line_first_come_first_served(app, make, world,
                                                                         served, crowd):
    # Seats full, then at once: the crowd signs up while some seat holders and some of the
    # first waitlisters give up their places.
    seated, rush = crowd[:SEATS], crowd[SEATS:]
    early = [make.resident(world.a, f"早候补{i}") for i in range(8)]
    aid = make.activity(world.team_a, capacity=SEATS)
    for person in seated + early:
        make.call("POST", f"/api/v1/activities/{aid}/signups", person)
    leaving = seated[:6] + early[:3]
    calls = ([post(f"{served}/activities/{aid}/signups", p) for p in rush]
             + [post(f"{served}/activities/{aid}/signups/me", p, "DELETE") for p in leaving])
    responses = all_at_once(calls)
    assert Counter(r.status_code for r in responses) == {201: len(rush), 200: len(leaving)}

    activity, rows = counts(app, aid)
    active = [r for r in rows if r.status in (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED)]
    confirmed = [r for r in active if r.status == SignupStatus.CONFIRMED]
    waiting = [r for r in active if r.status == SignupStatus.WAITLISTED]
    # Never over, and never a free seat while someone waits.
    assert activity.confirmed_count == len(confirmed) == SEATS
    assert activity.waitlist_count == len(waiting) == len(active) - SEATS
    # Everyone who reached a seat from the line stood before everyone still in it.
    promoted = [r for r in confirmed if r.waitlist_seq is not None]
    assert len(promoted) == 6  # one for each seat given up
    assert max(r.waitlist_seq for r in promoted) < min(r.waitlist_seq for r in waiting)
    # The early waitlisters who stayed were ahead of the whole rush.
    stayed = {p.id for p in early[3:]}
    assert stayed <= {r.user_id for r in promoted}
    assert len({r.waitlist_seq for r in rows if r.waitlist_seq is not None}) == len(
        [r for r in rows if r.waitlist_seq is not None])
    with app.app_context():
        told = [n.user_id for n in
                db.session.query(Notification).filter_by(template_key="waitlist_promoted")]
    # Told once each: the promoted, and early waitlisters promoted before their cancel ran.
    assert len(told) == len(set(told))
    assert {r.user_id for r in promoted} <= set(told) <= (
        {r.user_id for r in promoted} | {p.id for p in early[:3]})
