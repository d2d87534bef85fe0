"""Needs (民事民提, SPEC §9a) through HTTP: post, list, support, triage, activities that
serve a need; the daily limit; notices to the author and every supporter."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import requests
import time_machine

from backend.common.audit import AuditEntry
from backend.common.clock import now
from backend.extensions import db
from backend.notify.models import Notification
from backend.voice.models import Need, NeedSupport
from tests.conftest import ON_POSTGRES, all_at_once
from tests.voice_support import API, post_need, triage


def notices(app, key="need_update"):
    with app.app_context():
        return Counter(n.user_id for n in db.session.query(Notification)
                       .filter_by(template_key=key).all())


def test_resident_posts_a_need_and_supports_it_from_the_start(make, world):
    need = post_need(make, world, title="小区缺少儿童游乐设施", category="children")
    assert need["status"] == "open" and need["supporters"] == 1 and need["i_support"] is True
    assert need["mine"] is True and need["reply"] is None and need["team_id"] is None
    assert need["category"] == "children" and need["community_id"] == world.a
    assert need["author"] == "张*明"  # masked, even to its author
    seen = make.call("GET", f"{API}/needs/{need['id']}", world.leader_a).json
    assert seen["i_support"] is False and seen["mine"] is False and seen["supporters"] == 1


@pytest.mark.parametrize("body, field", [
    ({"title": "", "category": "safety"}, "title"),
    ({"title": "x" * 101, "category": "safety"}, "title"),
    ({"title": "路灯", "category": "weather"}, "category"),
    ({"title": "路灯"}, "category"),
    ({"title": "路灯", "category": "safety", "description": "x" * 2001}, "description"),
])
def test_a_bad_need_is_422_with_the_field(make, world, body, field):
    response = make.call("POST", f"{API}/communities/{world.a}/needs", world.resident_a,
                         json=body)
    assert response.status_code == 422
    assert field in response.json["error"]["details"]["fields"]


def test_only_residents_of_the_community_post_needs(make, world):
    body = {"title": "路灯", "category": "safety"}
    assert make.call("POST", f"{API}/communities/{world.a}/needs", world.staff_a,
                     json=body).status_code == 403
    assert make.call("POST", f"{API}/communities/{world.a}/needs", world.resident_b,
                     json=body).status_code == 404
    assert make.call("POST", f"{API}/communities/999/needs", world.resident_a,
                     json=body).status_code == 404


def test_daily_limit_on_open_needs(app, make, world):
    assert app.config["NEEDS_PER_DAY"] == 3  # LINLI_NEEDS_PER_DAY's default
    for i in range(app.config["NEEDS_PER_DAY"]):
        post_need(make, world, title=f"需求{i}")
    refused = make.call("POST", f"{API}/communities/{world.a}/needs", world.resident_a,
                        json={"title": "再来一条", "category": "other"})
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "need_limit_reached"
    # Another resident is not held back by it.
    post_need(make, world, make.resident(world.a, "李梅"))
    with time_machine.travel(now() + timedelta(days=1)):
        post_need(make, world, make.relogin(world.resident_a), title="第二天的需求")


def test_list_sorts_by_support_or_newest_and_filters_by_status(make, world):
    old = post_need(make, world, title="旧需求")
    new = post_need(make, world, title="新需求")
    for person in (make.resident(world.a, "甲乙"), make.resident(world.a, "丙丁")):
        assert make.call("POST", f"{API}/needs/{old['id']}/support", person).status_code == 200
    url = f"{API}/communities/{world.a}/needs"
    newest = make.call("GET", url, world.resident_a).json
    assert [n["id"] for n in newest["items"]] == [new["id"], old["id"]]
    assert newest["total"] == 2 and newest["page"] == 1 and newest["per_page"] == 20
    by_support = make.call("GET", f"{url}?sort=supporters", world.staff_a).json["items"]
    assert [(n["id"], n["supporters"]) for n in by_support] == [(old["id"], 3), (new["id"], 1)]
    assert all(n["i_support"] is False for n in by_support)  # staff support nothing
    assert triage(make, world, new["id"], "declined").status_code == 200
    opened = make.call("GET", f"{url}?status=open", world.resident_a).json["items"]
    assert [n["id"] for n in opened] == [old["id"]]
    declined = make.call("GET", f"{url}?status=declined", world.resident_a).json["items"]
    assert declined[0]["reply"] == "已declined" and declined[0]["author"] == "张*明"
    paged = make.call("GET", f"{url}?per_page=1&page=2", world.resident_a).json
    assert paged["total"] == 2 and len(paged["items"]) == 1
    assert make.call("GET", f"{url}?sort=oldest", world.resident_a).status_code == 422
    assert make.call("GET", f"{url}?status=lost", world.resident_a).status_code == 422
    assert make.call("GET", url, world.resident_b).status_code == 404


def test_support_is_once_and_withdrawable(app, make, world):
    need = post_need(make, world)
    neighbour = make.resident(world.a, "王芳")
    url = f"{API}/needs/{need['id']}/support"
    first = make.call("POST", url, neighbour).json
    again = make.call("POST", url, neighbour)
    assert first == again.json == {"supporters": 2, "i_support": True}
    assert again.status_code == 200
    withdrawn = make.call("DELETE", url, neighbour)
    assert withdrawn.status_code == 200 and withdrawn.json == {"supporters": 1,
                                                               "i_support": False}
    assert make.call("DELETE", url, neighbour).json == {"supporters": 1, "i_support": False}
    with app.app_context():
        assert db.session.query(NeedSupport).filter_by(need_id=need["id"]).count() == 1
    assert make.call("POST", url, world.staff_a).status_code == 403
    assert make.call("POST", url, world.resident_b).status_code == 404
    assert make.call("POST", f"{API}/needs/999/support", neighbour).status_code == 404


def test_a_closed_need_takes_no_more_support(make, world):
    need = post_need(make, world)
    assert triage(make, world, need["id"], "declined").status_code == 200
    refused = make.call("POST", f"{API}/needs/{need['id']}/support",
                        make.resident(world.a, "周周"))
    assert refused.status_code == 409 and refused.json["error"]["code"] == "need_closed"
    # The author's support stays what it was: 200 and no change for who already supports.
    same = make.call("POST", f"{API}/needs/{need['id']}/support", world.resident_a)
    assert same.status_code == 200 and same.json["supporters"] == 1


def test_accept_names_a_team_and_notifies_author_and_supporters(app, make, world):
    need = post_need(make, world)
    fan = make.resident(world.a, "李雷")
    make.call("POST", f"{API}/needs/{need['id']}/support", fan)
    accepted = triage(make, world, need["id"], "accepted", team_id=world.team_a,
                      reply="志愿服务队下周更换灯泡")
    assert accepted.status_code == 200, accepted.json
    body = accepted.json
    assert body["status"] == "accepted" and body["team_id"] == world.team_a
    assert body["reply"] == "志愿服务队下周更换灯泡" and body["team_name"]
    assert body["triaged_at"] is not None
    assert notices(app) == {world.resident_a.id: 1, fan.id: 1}
    inbox = make.call("GET", f"{API}/me/notifications", fan).json["items"]
    assert "志愿服务队下周更换灯泡" in inbox[0]["body"]
    assert inbox[0]["page"] == f"pages/voice/need?id={need['id']}"
    with app.app_context():
        entry = db.session.query(AuditEntry).filter_by(action="need.triaged").one()
        assert entry.actor_id == world.staff_a.id and entry.after["status"] == "accepted"
    keys = [t["key"] for t in make.call("GET", f"{API}/notifications/templates",
                                        fan).json["items"]]
    assert {"need_update", "evaluation_invite"} <= set(keys)


def test_triage_refusals(make, world):
    need = post_need(make, world)
    nid = need["id"]
    missing_team = triage(make, world, nid, "accepted")
    assert missing_team.status_code == 422 and "team_id" in missing_team.json["error"][
        "details"]["fields"]
    foreign_team = triage(make, world, nid, "accepted", team_id=world.team_b)
    assert foreign_team.status_code == 422
    assert triage(make, world, nid, "open").status_code == 422
    assert triage(make, world, nid, "merged").status_code == 422  # merged_into missing
    itself = triage(make, world, nid, "merged", merged_into=nid)
    assert itself.status_code == 422
    not_accepted = triage(make, world, nid, "done")
    assert not_accepted.status_code == 409
    assert not_accepted.json["error"]["code"] == "need_not_accepted"
    assert make.call("POST", f"{API}/needs/{nid}/triage", world.staff_a,
                     json={"status": "declined"}).status_code == 422  # no reply
    assert triage(make, world, nid, "declined", who=world.resident_a).status_code == 403
    assert triage(make, world, nid, "declined", who=world.leader_a).status_code == 403
    assert triage(make, world, nid, "declined", who=world.staff_b).status_code == 404
    assert triage(make, world, 999, "declined").status_code == 404
    assert triage(make, world, nid, "declined").status_code == 200
    closed = triage(make, world, nid, "accepted", team_id=world.team_a)
    assert closed.status_code == 409 and closed.json["error"]["code"] == "need_already_closed"


def test_merge_moves_supporters_without_counting_anyone_twice(app, make, world):
    source = post_need(make, world, title="楼道太暗")
    target = post_need(make, world, make.resident(world.a, "钱多"), title="楼道灯坏了")
    both, only_source = make.resident(world.a, "孙俪"), make.resident(world.a, "赵四")
    for person in (both, only_source):
        make.call("POST", f"{API}/needs/{source['id']}/support", person)
    make.call("POST", f"{API}/needs/{target['id']}/support", both)
    merged = triage(make, world, source["id"], "merged", merged_into=target["id"],
                    reply="与另一条需求相同，已合并")
    assert merged.status_code == 200, merged.json
    assert merged.json["status"] == "merged" and merged.json["merged_into"] == target["id"]
    # target: its author and `both` already; the source's author and `only_source` join.
    after = make.call("GET", f"{API}/needs/{target['id']}", world.resident_a).json
    assert after["supporters"] == 4 and after["i_support"] is True
    with app.app_context():
        assert db.session.query(NeedSupport).filter_by(need_id=target["id"]).count() == 4
    assert notices(app) == {world.resident_a.id: 1, both.id: 1, only_source.id: 1}
    declined = post_need(make, world, make.resident(world.a, "周五"))
    triage(make, world, declined["id"], "declined")
    other = post_need(make, world, make.resident(world.a, "吴六"))
    closed = triage(make, world, other["id"], "merged", merged_into=declined["id"])
    assert closed.status_code == 409 and closed.json["error"]["code"] == "merge_target_closed"
    foreign = triage(make, world, other["id"], "merged", merged_into=999)
    assert foreign.status_code == 422


def test_done_only_once_an_activity_serving_the_need_has_ended(app, make, world, soon):
    need = post_need(make, world)
    nid = need["id"]
    assert triage(make, world, nid, "accepted", team_id=world.team_a).status_code == 200
    early = triage(make, world, nid, "done")
    assert early.status_code == 409 and early.json["error"]["code"] == "need_not_served"
    body = {"title": "更换楼道灯", "starts_at": soon(days=2), "ends_at": soon(days=2, hours=2),
            "capacity": 5, "need_id": nid}
    created = make.call("POST", f"{API}/teams/{world.team_a}/activities", world.leader_a,
                        json=body)
    assert created.status_code == 201, created.json
    assert created.json["need_id"] == nid
    assert triage(make, world, nid, "done").status_code == 409  # not ended yet
    with app.app_context():
        from backend.activities.models import Activity
        activity = db.session.get(Activity, created.json["id"])
        activity.status = "published"
        activity.starts_at, activity.ends_at = now() - timedelta(hours=3), now() - timedelta(
            hours=1)
        db.session.commit()
    done = triage(make, world, nid, "done", reply="灯已换好")
    assert done.status_code == 200 and done.json["status"] == "done"
    assert notices(app) == {world.resident_a.id: 2}  # accepted, then done


def test_an_activity_may_only_name_an_accepted_need_of_its_own_team(make, world, soon):
    open_need = post_need(make, world)
    taken = post_need(make, world, title="另一条")
    triage(make, world, taken["id"], "accepted", team_id=world.team_a2)
    body = {"title": "服务", "starts_at": soon(days=2), "ends_at": soon(days=2, hours=2),
            "capacity": 5}
    url = f"{API}/teams/{world.team_a}/activities"
    for need_id in (open_need["id"], taken["id"]):
        refused = make.call("POST", url, world.leader_a, json={**body, "need_id": need_id})
        assert refused.status_code == 409
        assert refused.json["error"]["code"] == "need_not_taken_by_team"
    missing = make.call("POST", url, world.leader_a, json={**body, "need_id": 999})
    assert missing.status_code == 422 and "need_id" in missing.json["error"]["details"]["fields"]
    plain = make.call("POST", url, world.leader_a, json=body)
    assert plain.status_code == 201 and plain.json["need_id"] is None
    aid = plain.json["id"]
    patched = make.call("PATCH", f"{API}/activities/{aid}", world.leader_a,
                        json={"need_id": taken["id"]})
    assert patched.status_code == 409
    triage(make, world, open_need["id"], "accepted", team_id=world.team_a)
    patched = make.call("PATCH", f"{API}/activities/{aid}", world.leader_a,
                        json={"need_id": open_need["id"]})
    assert patched.status_code == 200 and patched.json["need_id"] == open_need["id"]


@pytest.mark.postgres_only
def test_two_hundred_residents_support_one_need_at_once(app, make, world, served):
    assert ON_POSTGRES
    need = post_need(make, world)
    # The author steps back, so the count is the crowd's alone.
    make.call("DELETE", f"{API}/needs/{need['id']}/support", world.resident_a)
    crowd = [make.resident(world.a, f"居民{i}") for i in range(200)]

    def support(person):
        def call():
            with requests.Session() as session:
                return session.post(f"{served}/needs/{need['id']}/support",
                                    headers=person.headers, timeout=60)
        return call

    responses = all_at_once([support(p) for p in crowd])
    assert Counter(r.status_code for r in responses) == {200: 200}
    with app.app_context():
        assert db.session.get(Need, need["id"]).supporters == 200
        assert db.session.query(NeedSupport).filter_by(need_id=need["id"]).count() == 200
    again = all_at_once([support(p) for p in crowd[:50]])
    assert Counter(r.status_code for r in again) == {200: 50}
    with app.app_context():
        assert db.session.get(Need, need["id"]).supporters == 200
