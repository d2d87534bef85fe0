"""Communities, staff, joining, teams and members (SPEC §3)."""

from __future__ import annotations

import pytest


def test_admin_creates_a_community(make, world):
    response = make.call("POST", "/api/v1/communities", world.admin,
                         json={"name": "  向阳社区 ", "street": "和平街道"})
    assert response.status_code == 201
    assert response.json["name"] == "向阳社区"
    assert response.json["noshow_limit"] == 3
    listed = make.call("GET", "/api/v1/communities?per_page=100", world.outsider).json
    assert "向阳社区" in [c["name"] for c in listed["items"]]


@pytest.mark.parametrize("body", [{}, {"name": "", "street": "x"}, {"name": "x" * 101,
                                                                   "street": "x"},
                                  {"name": 5, "street": "x"}, ["not", "an", "object"]])
def test_bad_community_is_a_validation_error(make, world, body):
    response = make.call("POST", "/api/v1/communities", world.admin, json=body)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"


def test_adding_staff_twice_returns_the_membership(make, world):
    first = make.call("POST", f"/api/v1/communities/{world.a}/staff", world.admin,
                      json={"user_id": world.outsider.id})
    second = make.call("POST", f"/api/v1/communities/{world.a}/staff", world.admin,
                       json={"user_id": world.outsider.id})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json["id"] == second.json["id"]
    me = make.call("GET", "/api/v1/me", world.outsider).json
    assert {"role": "staff", "community_id": world.a, "team_id": None} in me["roles"]


def test_adding_unknown_user_as_staff_is_not_found(make, world):
    response = make.call("POST", f"/api/v1/communities/{world.a}/staff", world.admin,
                         json={"user_id": 99999})
    assert response.status_code == 404


def test_joining_makes_a_resident_of_one_community(make, world):
    address = {"real_name": "刘备", "building": "5", "unit": "1", "room": "302"}
    joined = make.call("POST", f"/api/v1/communities/{world.a}/join", world.outsider,
                       json=address)
    assert joined.status_code == 201 and joined.json["community_id"] == world.a
    moved_flat = make.call("POST", f"/api/v1/communities/{world.a}/join", world.outsider,
                           json={**address, "room": "303"})
    assert moved_flat.status_code == 200 and moved_flat.json["room"] == "303"
    elsewhere = make.call("POST", f"/api/v1/communities/{world.b}/join", world.outsider,
                          json=address)
    assert elsewhere.status_code == 409
    assert elsewhere.json["error"]["code"] == "already_in_community"
    me = make.call("GET", "/api/v1/me", world.outsider).json
    assert me["roles"] == [{"role": "resident", "community_id": world.a, "team_id": None}]


def test_joining_an_unknown_community_is_not_found(make, world):
    response = make.call("POST", "/api/v1/communities/424242/join", world.outsider,
                         json={"real_name": "刘备", "building": "5", "unit": "1", "room": "3"})
    assert response.status_code == 404


def test_staff_create_teams_with_a_category(make, world):
    response = make.call("POST", f"/api/v1/communities/{world.a}/teams", world.staff_a,
                         json={"name": "车辆自治之家", "category": "parking"})
    assert response.status_code == 201
    assert response.json == {"id": response.json["id"], "community_id": world.a,
                             "name": "车辆自治之家", "category": "parking"}
    bad = make.call("POST", f"/api/v1/communities/{world.a}/teams", world.staff_a,
                    json={"name": "舞蹈队", "category": "dancing"})
    assert bad.status_code == 422 and "category" in bad.json["error"]["details"]["fields"]


def test_leader_adds_members_and_leaders_to_own_team(make, world):
    newcomer = make.resident(world.a, "周小宝")
    response = make.call("POST", f"/api/v1/teams/{world.team_a}/members", world.leader_a,
                         json={"user_id": newcomer.id, "role": "leader"})
    assert response.status_code == 201 and response.json["role"] == "leader"
    assert response.json["display_name"] == "周*宝"
    me = make.call("GET", "/api/v1/me", newcomer).json
    assert {"role": "leader", "community_id": world.a, "team_id": world.team_a} in me["roles"]
    demoted = make.call("POST", f"/api/v1/teams/{world.team_a}/members", world.staff_a,
                        json={"user_id": newcomer.id, "role": "member"})
    assert demoted.status_code == 200 and demoted.json["role"] == "member"
    assert demoted.json["display_name"] == "周小宝"


def test_only_residents_of_the_community_join_its_teams(make, world):
    response = make.call("POST", f"/api/v1/teams/{world.team_a}/members", world.staff_a,
                         json={"user_id": world.resident_b.id})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "not_a_resident"


def test_member_list_masks_names_for_leaders(make, world):
    leader_view = make.call("GET", f"/api/v1/teams/{world.team_a}/members", world.leader_a)
    staff_view = make.call("GET", f"/api/v1/teams/{world.team_a}/members", world.staff_a)
    assert [m["display_name"] for m in leader_view.json["items"]] == ["王*力"]
    assert [m["display_name"] for m in staff_view.json["items"]] == ["王大力"]


@pytest.mark.parametrize("name, masked", [
    ("张三明", "张*明"), ("张三", "张*"), ("欧阳娜娜", "欧**娜"), ("王", "*")])
def test_mask_name(name, masked):
    from backend.communities.access import mask_name

    assert mask_name(name) == masked


def test_settings_booleans_are_true_or_false_only(make, world):
    for value in (0, 1, "true", None):
        response = make.call("PATCH", f"/api/v1/communities/{world.a}", world.staff_a,
                             json={"points_expire": value})
        assert response.status_code == 422, value
    ok = make.call("PATCH", f"/api/v1/communities/{world.a}", world.staff_a,
                   json={"points_expire": True})
    assert ok.status_code == 200 and ok.get_json()["points_expire"] is True
