"""Beneficiaries and evaluations (民事民评, SPEC §9a) through HTTP: who may rate an activity
and when, the summary and who sees comments, hiding, the pending list and the invitations."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import requests
import time_machine

from backend.checkin.models import AttendanceStatus
from backend.common.audit import AuditEntry
from backend.common.clock import now
from backend.extensions import db
from backend.notify.models import Notification
from backend.voice.models import Evaluation
from backend.voice.tasks import invite_evaluations
from tests.conftest import ON_POSTGRES, all_at_once
from tests.voice_support import API, attend


def ended(make, world, hours_ago=1, **fields):
    return make.activity(world.team_a, starts_at=now() - timedelta(hours=hours_ago + 2),
                         ends_at=now() - timedelta(hours=hours_ago), **fields)


def rate(make, person, aid, rating=5, comment="很好"):
    return make.call("POST", f"{API}/activities/{aid}/evaluations", person,
                     json={"rating": rating, "comment": comment})


def summary(make, person, aid):
    return make.call("GET", f"{API}/activities/{aid}/evaluations/summary", person)


# -- beneficiaries -------------------------------------------------------------------------

def test_leader_replaces_the_beneficiary_list(app, make, world):
    aid = ended(make, world)
    elder, child = make.resident(world.a, "刘奶奶"), make.resident(world.a, "小明")
    url = f"{API}/activities/{aid}/beneficiaries"
    first = make.call("PUT", url, world.leader_a, json={"user_ids": [elder.id, child.id]})
    assert first.status_code == 200, first.json
    assert first.json["activity_id"] == aid
    assert first.json["items"] == [{"user_id": elder.id, "display_name": "刘*奶"},
                                   {"user_id": child.id, "display_name": "小*"}]
    replaced = make.call("PUT", url, world.staff_a, json={"user_ids": [child.id]}).json
    assert replaced["items"] == [{"user_id": child.id, "display_name": "小明"}]  # staff: full
    assert make.call("GET", url, world.leader_a).json["items"][0]["user_id"] == child.id
    assert make.call("PUT", url, world.leader_a, json={"user_ids": []}).json["items"] == []
    with app.app_context():
        assert db.session.query(AuditEntry).filter_by(
            action="activity.beneficiaries_set").count() == 3


def test_beneficiaries_must_be_residents_of_the_community(make, world):
    aid = ended(make, world)
    url = f"{API}/activities/{aid}/beneficiaries"
    outsider_ids = [world.resident_b.id, world.outsider.id]
    refused = make.call("PUT", url, world.leader_a,
                        json={"user_ids": [world.resident_a.id, *outsider_ids]})
    assert refused.status_code == 422
    assert refused.json["error"]["details"]["user_ids"] == outsider_ids
    assert "user_ids" in refused.json["error"]["details"]["fields"]
    assert make.call("PUT", url, world.leader_a, json={"user_ids": ["x"]}).status_code == 422
    assert make.call("PUT", url, world.leader_a, json={}).status_code == 422
    body = {"user_ids": [world.resident_a.id]}
    assert make.call("PUT", url, world.resident_a, json=body).status_code == 403
    assert make.call("PUT", url, world.leader_a2, json=body).status_code == 403
    assert make.call("PUT", url, world.staff_b, json=body).status_code == 404


# -- evaluating ----------------------------------------------------------------------------

def test_an_attendee_rates_an_ended_activity_once(app, make, world):
    aid = ended(make, world)
    attend(app, aid, world.a, world.resident_a, confirmed_by=world.leader_a.id)
    created = rate(make, world.resident_a, aid, 4, "理发师傅很耐心")
    assert created.status_code == 201, created.json
    body = created.json
    assert body["rating"] == 4 and body["comment"] == "理发师傅很耐心"
    assert body["activity_id"] == aid and body["hidden"] is False and body["id"]
    again = rate(make, world.resident_a, aid, 1)
    assert again.status_code == 409 and again.json["error"]["code"] == "already_evaluated"


def test_approved_attendance_and_beneficiaries_may_rate(app, make, world):
    aid = ended(make, world)
    approved, served = make.resident(world.a, "钱一"), make.resident(world.a, "孙二")
    attend(app, aid, world.a, approved, AttendanceStatus.APPROVED)
    make.call("PUT", f"{API}/activities/{aid}/beneficiaries", world.leader_a,
              json={"user_ids": [served.id]})
    assert rate(make, approved, aid).status_code == 201
    assert rate(make, served, aid, comment=None).status_code == 201


def test_who_may_not_rate(app, make, world):
    aid = ended(make, world)
    open_row, rejected = make.resident(world.a, "周三"), make.resident(world.a, "吴四")
    attend(app, aid, world.a, open_row, AttendanceStatus.OPEN)
    attend(app, aid, world.a, rejected, AttendanceStatus.REJECTED)
    # The activity's own leader, even one who attended and is listed, may not rate it.
    attend(app, aid, world.a, world.leader_a, confirmed_by=world.leader_a2.id)
    make.call("PUT", f"{API}/activities/{aid}/beneficiaries", world.staff_a,
              json={"user_ids": [world.leader_a.id]})
    for person in (open_row, rejected, world.leader_a, world.leader_a2, world.staff_a,
                   make.resident(world.a, "郑五")):
        refused = rate(make, person, aid)
        assert refused.status_code == 403, refused.json
        assert refused.json["error"]["code"] == "forbidden"
    assert rate(make, world.resident_b, aid).status_code == 404
    assert rate(make, world.resident_a, 999).status_code == 404


def test_not_before_the_end_and_not_after_fourteen_days(app, make, world):
    running = make.activity(world.team_a, starts_at=now() - timedelta(hours=1),
                            ends_at=now() + timedelta(hours=1))
    attend(app, running, world.a, world.resident_a)
    early = rate(make, world.resident_a, running)
    assert early.status_code == 409 and early.json["error"]["code"] == "activity_not_ended"
    beneficiary = make.resident(world.a, "王五")
    make.call("PUT", f"{API}/activities/{running}/beneficiaries", world.leader_a,
              json={"user_ids": [beneficiary.id]})
    assert rate(make, beneficiary, running).json["error"]["code"] == "activity_not_ended"
    with time_machine.travel(now() + timedelta(days=14, minutes=30)):
        on_time = rate(make, make.relogin(world.resident_a), running)
        assert on_time.status_code == 201, on_time.json
    with time_machine.travel(now() + timedelta(days=14, hours=2)):
        late = rate(make, make.relogin(beneficiary), running)
        assert late.status_code == 409 and late.json["error"]["code"] == "evaluation_closed"


@pytest.mark.parametrize("body", [{"rating": 0}, {"rating": 6}, {"rating": "5"},
                                  {"rating": 4.5}, {}, {"rating": 3, "comment": "x" * 501}])
def test_bad_ratings_are_422(app, make, world, body):
    aid = ended(make, world)
    attend(app, aid, world.a, world.resident_a)
    response = make.call("POST", f"{API}/activities/{aid}/evaluations", world.resident_a,
                         json=body)
    assert response.status_code == 422


# -- summary, comments, hiding --------------------------------------------------------------

def test_summary_for_the_community_and_comments_for_leaders_and_staff(app, make, world):
    aid = ended(make, world)
    raters = [make.resident(world.a, name) for name in ("张小花", "李大壮", "王五")]
    for person, rating in zip(raters, (5, 4, 4), strict=True):
        attend(app, aid, world.a, person)
        assert rate(make, person, aid, rating, comment=f"打{rating}分").status_code == 201
    seen = summary(make, world.resident_a, aid)
    assert seen.status_code == 200
    assert seen.json == {"activity_id": aid, "count": 3, "average": 4.33,
                         "distribution": {"1": 0, "2": 0, "3": 0, "4": 2, "5": 1}}
    for person in (world.leader_a, world.staff_a):
        comments = summary(make, person, aid).json["comments"]
        assert [(c["rating"], c["author"]) for c in comments] == [
            (4, "王*"), (4, "李*壮"), (5, "张*花")]
    assert "comments" not in summary(make, world.leader_a2, aid).json
    assert summary(make, world.resident_b, aid).status_code == 404
    assert summary(make, world.outsider, aid).status_code == 404
    empty = summary(make, world.resident_a, ended(make, world)).json
    assert empty["count"] == 0 and empty["average"] is None
    assert set(empty["distribution"]) == {"1", "2", "3", "4", "5"}


def test_staff_hide_an_abusive_evaluation_audited_and_left_out(app, make, world):
    aid = ended(make, world)
    for person, rating in ((world.resident_a, 1), (make.resident(world.a, "钱七"), 5)):
        attend(app, aid, world.a, person)
        rate(make, person, aid, rating, comment="骂人的话" if rating == 1 else "好")
    staff_view = summary(make, world.staff_a, aid).json
    abusive = next(c for c in staff_view["comments"] if c["rating"] == 1)
    url = f"{API}/evaluations/{abusive['id']}/hide"
    assert make.call("POST", url, world.leader_a, json={"reason": "辱骂"}).status_code == 403
    assert make.call("POST", url, world.staff_b, json={"reason": "辱骂"}).status_code == 404
    assert make.call("POST", url, world.staff_a, json={}).status_code == 422
    hidden = make.call("POST", url, world.staff_a, json={"reason": "含辱骂内容"})
    assert hidden.status_code == 200, hidden.json
    assert hidden.json["hidden"] is True and hidden.json["hidden_reason"] == "含辱骂内容"
    assert hidden.json["comment"] == "骂人的话" and hidden.json["rating"] == 1  # not edited
    after = summary(make, world.staff_a, aid).json
    assert after["count"] == 1 and after["distribution"]["1"] == 0
    assert [c["rating"] for c in after["comments"]] == [5]
    again = make.call("POST", url, world.staff_a, json={"reason": "再次"})
    assert again.status_code == 409
    assert make.call("POST", f"{API}/evaluations/999/hide", world.staff_a,
                     json={"reason": "x"}).status_code == 404
    with app.app_context():
        entry = db.session.query(AuditEntry).filter_by(action="evaluation.hidden").one()
        assert entry.actor_id == world.staff_a.id and entry.reason == "含辱骂内容"
    # Hidden is not deleted: the resident cannot post a second one.
    assert rate(make, world.resident_a, aid).json["error"]["code"] == "already_evaluated"


# -- pending and invitations -----------------------------------------------------------------

def test_pending_lists_what_i_can_still_evaluate(app, make, world):
    recent, older = ended(make, world, hours_ago=1), ended(make, world, hours_ago=48)
    closed = ended(make, world, hours_ago=15 * 24)
    upcoming = make.activity(world.team_a)
    for aid in (recent, older, closed, upcoming):
        attend(app, aid, world.a, world.resident_a)
    served = ended(make, world, hours_ago=5)
    make.call("PUT", f"{API}/activities/{served}/beneficiaries", world.leader_a,
              json={"user_ids": [world.resident_a.id]})
    listed = make.call("GET", f"{API}/me/evaluations/pending", world.resident_a).json
    assert [i["activity_id"] for i in listed["items"]] == [older, served, recent]
    assert listed["total"] == 3 and listed["items"][0]["evaluate_until"]
    rate(make, world.resident_a, older)
    after = make.call("GET", f"{API}/me/evaluations/pending", world.resident_a).json
    assert [i["activity_id"] for i in after["items"]] == [served, recent]
    assert make.call("GET", f"{API}/me/evaluations/pending", world.leader_a).json["total"] == 0


def test_invitations_go_once_to_everyone_who_may_evaluate(app, make, world):
    aid = ended(make, world)
    served = make.resident(world.a, "刘奶奶")
    attend(app, aid, world.a, world.resident_a)
    attend(app, aid, world.a, world.leader_a)  # its own leader: not invited
    make.call("PUT", f"{API}/activities/{aid}/beneficiaries", world.leader_a,
              json={"user_ids": [served.id, world.resident_a.id]})
    running = make.activity(world.team_a, starts_at=now() - timedelta(hours=1),
                            ends_at=now() + timedelta(hours=1))
    attend(app, running, world.a, world.resident_a)
    with app.app_context():
        assert invite_evaluations(now()) == 2
        assert invite_evaluations(now()) == 0
        invited = Counter(n.user_id for n in db.session.query(Notification).filter_by(
            template_key="evaluation_invite"))
    assert invited == {world.resident_a.id: 1, served.id: 1}
    inbox = make.call("GET", f"{API}/me/notifications", served).json["items"]
    assert inbox[0]["page"] == f"pages/activity/detail?id={aid}"
    late = make.resident(world.a, "迟到者")
    attend(app, aid, world.a, late)
    with app.app_context():
        assert invite_evaluations(now()) == 1  # confirmed later: invited by the next run
        assert invite_evaluations(now() + timedelta(days=15)) == 0  # window closed


@pytest.mark.postgres_only
def test_a_concurrent_double_evaluation_records_one(app, make, world, served):
    assert ON_POSTGRES
    aid = ended(make, world)
    attend(app, aid, world.a, world.resident_a)

    def post():
        with requests.Session() as session:
            return session.post(f"{served}/activities/{aid}/evaluations",
                                headers=world.resident_a.headers,
                                json={"rating": 5, "comment": "好"}, timeout=60)

    for _ in range(3):  # several rounds: the race is real, not one lucky ordering
        with app.app_context():
            db.session.query(Evaluation).delete()
            db.session.commit()
        responses = all_at_once([post for _ in range(8)])
        assert sorted(r.status_code for r in responses) == [201] + [409] * 7
        assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
            "already_evaluated"}
        with app.app_context():
            assert db.session.query(Evaluation).filter_by(activity_id=aid).count() == 1
