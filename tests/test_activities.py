"""Activities and sign-up (SPEC §4)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from backend.activities.models import Signup, SignupStatus
from backend.common.clock import now
from backend.extensions import db
from backend.notify.models import Notification


def new_activity(soon, **overrides):
    body = {"title": "垃圾分类宣传", "description": "在小区门口发放宣传单",
            "location": "3号楼门口", "starts_at": soon(days=2), "ends_at": soon(days=2, hours=2),
            "capacity": 2, "points_per_hour": 10, "walk_ins_allowed": False}
    body.update(overrides)
    return body


def sign_up(make, activity_id, person):
    return make.call("POST", f"/api/v1/activities/{activity_id}/signups", person)


def notifications(app, user_id, key):
    with app.app_context():
        return db.session.query(Notification).filter_by(user_id=user_id, template_key=key).all()


def test_leader_creates_draft_then_publishes(make, world, soon):
    created = make.call("POST", f"/api/v1/teams/{world.team_a}/activities", world.leader_a,
                        json=new_activity(soon))
    assert created.status_code == 201
    activity = created.json
    assert activity["status"] == "draft"
    assert activity["confirmed_count"] == 0 and activity["waitlist_count"] == 0
    assert activity["my_signup"] is None
    assert activity["starts_at"].endswith("+08:00")
    published = make.call("POST", f"/api/v1/activities/{activity['id']}/publish", world.leader_a)
    assert published.status_code == 200 and published.json["status"] == "published"
    again = make.call("POST", f"/api/v1/activities/{activity['id']}/publish", world.leader_a)
    assert again.status_code == 409 and again.json["error"]["code"] == "activity_not_draft"


def test_naive_times_are_read_as_shanghai_time(make, world, soon):
    year = now().year + 1
    created = make.call("POST", f"/api/v1/teams/{world.team_a}/activities", world.staff_a,
                        json=new_activity(soon, starts_at=f"{year}-03-01T09:00:00",
                                          ends_at=f"{year}-03-01T11:00:00Z"))
    assert created.status_code == 201
    assert created.json["starts_at"] == f"{year}-03-01T09:00:00+08:00"
    assert created.json["ends_at"] == f"{year}-03-01T19:00:00+08:00"


@pytest.mark.parametrize("field, value, message_field", [
    ("ends_at", None, "ends_at"),
    ("capacity", 0, "capacity"),
    ("capacity", "ten", "capacity"),
    ("title", "", "title"),
    ("signup_opens_at", "days+3", "signup_opens_at"),
    ("cancel_deadline", "days+5", "cancel_deadline"),
    ("starts_at", "not a time", "starts_at"),
    ("unknown_field", 1, "unknown_field"),
])
def test_invalid_activity_is_a_validation_error(make, world, soon, field, value, message_field):
    body = new_activity(soon)
    if isinstance(value, str) and value.startswith("days+"):
        value = soon(days=int(value[5:]))
    if field == "ends_at":
        value = body["starts_at"]
    body[field] = value
    response = make.call("POST", f"/api/v1/teams/{world.team_a}/activities", world.leader_a,
                         json=body)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"
    assert message_field in response.json["error"]["details"]["fields"]


def test_activity_in_the_past_is_refused(make, world, soon):
    body = new_activity(soon, starts_at=soon(hours=-3), ends_at=soon(hours=-1))
    response = make.call("POST", f"/api/v1/teams/{world.team_a}/activities", world.leader_a,
                         json=body)
    assert response.status_code == 422
    assert "starts_at" in response.json["error"]["details"]["fields"]


def test_beyond_capacity_goes_on_fifo_waitlist(make, world):
    aid = make.activity(world.team_a, capacity=2)
    people = [make.resident(world.a, f"居民{i}号") for i in range(5)]
    results = [sign_up(make, aid, p) for p in people]
    assert [r.status_code for r in results] == [201] * 5
    assert [r.json["status"] for r in results] == ["confirmed"] * 2 + ["waitlisted"] * 3
    assert [r.json["waitlist_position"] for r in results] == [None, None, 1, 2, 3]
    detail = make.call("GET", f"/api/v1/activities/{aid}", people[3]).json
    assert detail["confirmed_count"] == 2 and detail["waitlist_count"] == 3
    assert detail["my_signup"]["status"] == "waitlisted"
    assert detail["my_signup"]["waitlist_position"] == 2


def test_signing_up_again_returns_the_existing_signup(make, world):
    aid = make.activity(world.team_a)
    first = sign_up(make, aid, world.resident_a)
    again = sign_up(make, aid, world.resident_a)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json["id"] == first.json["id"]
    detail = make.call("GET", f"/api/v1/activities/{aid}", world.resident_a).json
    assert detail["confirmed_count"] == 1


def test_cancel_promotes_first_waitlisted_and_notifies(app, make, world):
    aid = make.activity(world.team_a, capacity=1)
    holder, first, second = (make.resident(world.a, n) for n in ("甲", "乙", "丙"))
    for person in (holder, first, second):
        sign_up(make, aid, person)
    cancelled = make.call("DELETE", f"/api/v1/activities/{aid}/signups/me", holder)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    mine = make.call("GET", f"/api/v1/activities/{aid}", first).json["my_signup"]
    assert mine["status"] == "confirmed" and mine["waitlist_position"] is None
    assert make.call("GET", f"/api/v1/activities/{aid}", second).json["my_signup"][
        "waitlist_position"] == 1
    assert len(notifications(app, first.id, "waitlist_promoted")) == 1
    assert notifications(app, second.id, "waitlist_promoted") == []


def test_leaving_the_waitlist_promotes_nobody(make, world):
    aid = make.activity(world.team_a, capacity=1)
    holder, waiting = make.resident(world.a, "甲"), make.resident(world.a, "乙")
    sign_up(make, aid, holder)
    sign_up(make, aid, waiting)
    response = make.call("DELETE", f"/api/v1/activities/{aid}/signups/me", waiting)
    assert response.status_code == 200
    detail = make.call("GET", f"/api/v1/activities/{aid}", holder).json
    assert (detail["confirmed_count"], detail["waitlist_count"]) == (1, 0)


def test_cancel_without_signup_is_not_found(make, world):
    aid = make.activity(world.team_a)
    response = make.call("DELETE", f"/api/v1/activities/{aid}/signups/me", world.resident_a)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_cancel_after_deadline_is_refused(make, world):
    deadline = now() + timedelta(hours=5)
    aid = make.activity(world.team_a, cancel_deadline=deadline)
    sign_up(make, aid, world.resident_a)
    with time_machine.travel(deadline + timedelta(seconds=1)):
        response = make.call("DELETE", f"/api/v1/activities/{aid}/signups/me",
                             world.resident_a)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "cancel_deadline_passed"
    with time_machine.travel(deadline, tick=False):
        response = make.call("DELETE", f"/api/v1/activities/{aid}/signups/me",
                             world.resident_a)
    assert response.status_code == 200


def test_signup_opens_and_closes_exactly_on_time(make, world):
    opens = (now() + timedelta(hours=1)).replace(microsecond=0)
    closes = opens + timedelta(hours=1)
    aid = make.activity(world.team_a, signup_opens_at=opens, signup_closes_at=closes)
    with time_machine.travel(opens - timedelta(microseconds=1), tick=False):
        early = sign_up(make, aid, world.resident_a)
    assert early.status_code == 409 and early.json["error"]["code"] == "signup_not_open"
    with time_machine.travel(opens, tick=False):
        assert sign_up(make, aid, world.resident_a).status_code == 201
    late_comer = make.resident(world.a, "迟到者")
    with time_machine.travel(closes, tick=False):
        late = sign_up(make, aid, late_comer)
    assert late.status_code == 409 and late.json["error"]["code"] == "signup_closed"


def test_signup_closes_at_start_when_no_close_time(make, world):
    starts = now() + timedelta(hours=3)
    aid = make.activity(world.team_a, starts_at=starts)
    with time_machine.travel(starts, tick=False):
        response = sign_up(make, aid, world.resident_a)
    assert response.json["error"]["code"] == "signup_closed"


def test_draft_and_cancelled_activities_refuse_signups(make, world):
    draft = make.activity(world.team_a, published=False)
    response = sign_up(make, draft, world.resident_a)
    assert response.status_code == 404  # residents do not see drafts
    cancelled = make.activity(world.team_a)
    make.call("POST", f"/api/v1/activities/{cancelled}/cancel", world.leader_a)
    response = sign_up(make, cancelled, world.resident_a)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "activity_not_published"


def test_time_conflict_with_a_confirmed_signup(make, world):
    starts = now() + timedelta(days=3)
    first = make.activity(world.team_a, starts_at=starts, ends_at=starts + timedelta(hours=2))
    overlapping = make.activity(world.team_a2, starts_at=starts + timedelta(hours=1),
                                ends_at=starts + timedelta(hours=3))
    back_to_back = make.activity(world.team_a2, starts_at=starts + timedelta(hours=2),
                                 ends_at=starts + timedelta(hours=4))
    assert sign_up(make, first, world.resident_a).json["status"] == "confirmed"
    conflict = sign_up(make, overlapping, world.resident_a)
    assert conflict.status_code == 409
    assert conflict.json["error"]["code"] == "time_conflict"
    assert conflict.json["error"]["details"]["activity_id"] == first
    assert sign_up(make, back_to_back, world.resident_a).status_code == 201


def test_waitlisted_signup_is_no_time_conflict(make, world):
    starts = now() + timedelta(days=3)
    full = make.activity(world.team_a, capacity=1, starts_at=starts)
    sign_up(make, full, make.resident(world.a, "先到"))
    assert sign_up(make, full, world.resident_a).json["status"] == "waitlisted"
    other = make.activity(world.team_a2, starts_at=starts)
    assert sign_up(make, other, world.resident_a).json["status"] == "confirmed"


def test_cancelling_activity_cancels_signups_and_notifies_everyone(app, make, world):
    aid = make.activity(world.team_a, capacity=1)
    confirmed, waiting = make.resident(world.a, "甲"), make.resident(world.a, "乙")
    sign_up(make, aid, confirmed)
    sign_up(make, aid, waiting)
    response = make.call("POST", f"/api/v1/activities/{aid}/cancel", world.staff_a)
    assert response.status_code == 200 and response.json["status"] == "cancelled"
    for person in (confirmed, waiting):
        assert len(notifications(app, person.id, "activity_cancelled")) == 1
        mine = make.call("GET", f"/api/v1/activities/{aid}", person).json["my_signup"]
        assert mine["status"] == "cancelled"
    again = make.call("POST", f"/api/v1/activities/{aid}/cancel", world.staff_a)
    assert again.json["error"]["code"] == "activity_cancelled"


def test_signup_confirmation_is_notified_once(app, make, world):
    aid = make.activity(world.team_a)
    sign_up(make, aid, world.resident_a)
    sign_up(make, aid, world.resident_a)
    assert len(notifications(app, world.resident_a.id, "signup_confirmed")) == 1


def test_listing_shows_counts_and_my_signup(make, world):
    soonest = make.activity(world.team_a, starts_at=now() + timedelta(days=1))
    later = make.activity(world.team_a2, starts_at=now() + timedelta(days=5))
    make.activity(world.team_a, published=False)
    make.activity(world.team_b)
    sign_up(make, later, world.resident_a)
    page = make.call("GET", "/api/v1/activities", world.resident_a).json
    assert page["total"] == 2 and page["page"] == 1 and page["per_page"] == 20
    assert [a["id"] for a in page["items"]] == [soonest, later]
    assert page["items"][0]["my_signup"] is None
    assert page["items"][1]["my_signup"]["status"] == "confirmed"
    assert page["items"][1]["confirmed_count"] == 1
    staff_view = make.call("GET", f"/api/v1/activities?community_id={world.a}", world.staff_a)
    assert staff_view.json["total"] == 3  # staff also see the draft


def test_listing_filters_by_time_and_status(make, world):
    day = now() + timedelta(days=10)
    inside = make.activity(world.team_a, starts_at=day)
    make.activity(world.team_a, starts_at=day + timedelta(days=3))
    query = {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat(),
             "status": "published"}
    page = make.call("GET", "/api/v1/activities", world.resident_a, query_string=query).json
    assert [a["id"] for a in page["items"]] == [inside]
    page = make.call("GET", "/api/v1/activities", world.resident_a,
                     query_string={"status": "cancelled"}).json
    assert page["items"] == []


def test_pagination_of_activities(make, world):
    ids = [make.activity(world.team_a, starts_at=now() + timedelta(days=1 + i))
           for i in range(5)]
    page = make.call("GET", "/api/v1/activities?page=2&per_page=2", world.resident_a).json
    assert [a["id"] for a in page["items"]] == ids[2:4]
    assert page["total"] == 5
    bad = make.call("GET", "/api/v1/activities?per_page=1000", world.resident_a)
    assert bad.status_code == 422 and "per_page" in bad.json["error"]["details"]["fields"]


def test_leader_sees_masked_names_staff_sees_full(make, world):
    aid = make.activity(world.team_a)
    sign_up(make, aid, world.resident_a)
    leader_view = make.call("GET", f"/api/v1/activities/{aid}/signups", world.leader_a).json
    staff_view = make.call("GET", f"/api/v1/activities/{aid}/signups", world.staff_a).json
    assert leader_view["items"][0]["display_name"] == "张*明"
    assert staff_view["items"][0]["display_name"] == "张三明"


def test_my_signups_lists_my_history(make, world):
    first, second = make.activity(world.team_a), make.activity(world.team_a2,
                                                               starts_at=now() + timedelta(7))
    sign_up(make, first, world.resident_a)
    sign_up(make, second, world.resident_a)
    make.call("DELETE", f"/api/v1/activities/{first}/signups/me", world.resident_a)
    page = make.call("GET", "/api/v1/me/signups", world.resident_a).json
    assert [(s["activity"]["id"], s["status"]) for s in page["items"]] == [
        (second, "confirmed"), (first, "cancelled")]
    confirmed = make.call("GET", "/api/v1/me/signups?status=confirmed", world.resident_a).json
    assert confirmed["total"] == 1


def _attend_nothing(make, world, count, start):
    """Sign the resident up for ``count`` activities that end without a check-in."""
    ids = []
    for i in range(count):
        starts = start + timedelta(days=i)
        ids.append(make.activity(world.team_a, starts_at=starts,
                                 ends_at=starts + timedelta(hours=1)))
        assert sign_up(make, ids[-1], world.resident_a).status_code == 201
    return ids


def test_no_show_is_marked_when_the_activity_ends(app, make, world):
    start = now() + timedelta(days=1)
    (aid,) = _attend_nothing(make, world, 1, start)
    attended = make.resident(world.a, "到场者")
    sign_up(make, aid, attended)
    with app.app_context():
        signup = db.session.query(Signup).filter_by(user_id=attended.id).one()
        signup.checked_in_at = start
        db.session.commit()
    with time_machine.travel(start + timedelta(hours=2)):
        page = make.call("GET", f"/api/v1/activities/{aid}/signups", world.leader_a).json
    statuses = {s["user_id"]: s["status"] for s in page["items"]}
    assert statuses == {world.resident_a.id: "no_show", attended.id: "confirmed"}


def test_three_no_shows_suspend_signups_for_thirty_days(make, world):
    start = now() + timedelta(days=1)
    _attend_nothing(make, world, 3, start)
    last_end = start + timedelta(days=2, hours=1)
    later = make.activity(world.team_a2, starts_at=last_end + timedelta(days=40))
    with time_machine.travel(last_end + timedelta(hours=1)):
        refused = sign_up(make, later, world.resident_a)
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "signup_suspended"
    assert "suspended_until" in refused.json["error"]["details"]
    with time_machine.travel(last_end + timedelta(days=30, minutes=1)):
        assert sign_up(make, later, make.relogin(world.resident_a)).status_code == 201


def test_two_no_shows_do_not_suspend(make, world):
    start = now() + timedelta(days=1)
    _attend_nothing(make, world, 2, start)
    later = make.activity(world.team_a2, starts_at=start + timedelta(days=10))
    with time_machine.travel(start + timedelta(days=3)):
        assert sign_up(make, later, world.resident_a).status_code == 201


def test_no_show_rules_are_community_settings(make, world):
    response = make.call("PATCH", f"/api/v1/communities/{world.a}", world.staff_a,
                         json={"noshow_limit": 1, "suspension_days": 7})
    assert response.status_code == 200 and response.json["noshow_limit"] == 1
    start = now() + timedelta(days=1)
    _attend_nothing(make, world, 1, start)
    later = make.activity(world.team_a2, starts_at=start + timedelta(days=20))
    with time_machine.travel(start + timedelta(days=1)):
        assert sign_up(make, later, world.resident_a).json["error"]["code"] == \
            "signup_suspended"
    with time_machine.travel(start + timedelta(days=8)):
        assert sign_up(make, later, world.resident_a).status_code == 201


def test_no_show_cli_marks_ended_activities(app, make, world):
    start = now() + timedelta(days=1)
    _attend_nothing(make, world, 1, start)
    with time_machine.travel(start + timedelta(hours=2)):
        result = app.test_cli_runner().invoke(args=["mark-no-shows"])
    assert "marked 1" in result.output
    with app.app_context():
        assert db.session.query(Signup).one().status == SignupStatus.NO_SHOW


def test_more_seats_promote_the_waitlist_in_order(app, make, world):
    aid = make.activity(world.team_a, capacity=1)
    people = [make.resident(world.a, n) for n in ("甲", "乙", "丙", "丁")]
    for person in people:
        sign_up(make, aid, person)
    response = make.call("PATCH", f"/api/v1/activities/{aid}", world.leader_a,
                         json={"capacity": 3, "title": "社区清洁日（扩招）"})
    assert response.status_code == 200
    assert (response.json["confirmed_count"], response.json["waitlist_count"]) == (3, 1)
    assert response.json["title"] == "社区清洁日（扩招）"
    for person, status in zip(people, ["confirmed"] * 3 + ["waitlisted"], strict=True):
        mine = make.call("GET", f"/api/v1/activities/{aid}", person).json["my_signup"]
        assert mine["status"] == status
    assert len(notifications(app, people[1].id, "waitlist_promoted")) == 1
    assert notifications(app, people[3].id, "waitlist_promoted") == []


def test_fewer_seats_than_confirmed_is_refused(make, world):
    aid = make.activity(world.team_a, capacity=3)
    for name in ("甲", "乙"):
        sign_up(make, aid, make.resident(world.a, name))
    response = make.call("PATCH", f"/api/v1/activities/{aid}", world.staff_a,
                         json={"capacity": 1})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "capacity_below_confirmed"
    assert make.call("PATCH", f"/api/v1/activities/{aid}", world.staff_a,
                     json={"capacity": 2}).status_code == 200


def test_times_change_only_while_draft(make, world, soon):
    published = make.activity(world.team_a)
    moved = make.call("PATCH", f"/api/v1/activities/{published}", world.leader_a,
                      json={"starts_at": soon(days=9), "ends_at": soon(days=9, hours=1)})
    assert moved.status_code == 409
    assert moved.json["error"]["code"] == "activity_published"
    draft = make.activity(world.team_a, published=False)
    moved = make.call("PATCH", f"/api/v1/activities/{draft}", world.leader_a,
                      json={"starts_at": soon(days=9), "ends_at": soon(days=9, hours=1)})
    assert moved.status_code == 200
    backwards = make.call("PATCH", f"/api/v1/activities/{draft}", world.leader_a,
                          json={"ends_at": soon(days=8)})
    assert backwards.status_code == 422 and "ends_at" in backwards.json["error"]["details"][
        "fields"]
