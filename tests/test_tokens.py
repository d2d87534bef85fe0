"""Token revocation (SPEC §3): logout, and removal from a role, end every token issued
before — on the next request, the scan hot path included."""

from __future__ import annotations

from tests.factories import Person


def test_logout_answers_204_and_the_token_is_refused_afterwards(make, world):
    older = make.relogin(world.resident_a)
    response = make.call("POST", "/api/v1/auth/logout", world.resident_a)
    assert response.status_code == 204 and response.data == b""
    for token in (world.resident_a, older):
        refused = make.call("GET", "/api/v1/me", token)
        assert refused.status_code == 401
        assert refused.json["error"]["code"] == "unauthenticated"
    assert make.call("POST", "/api/v1/auth/logout", world.resident_a).status_code == 401


def test_a_token_issued_after_logout_works(make, world):
    make.call("POST", "/api/v1/auth/logout", world.resident_a)
    fresh = make.relogin(world.resident_a)
    assert make.call("GET", "/api/v1/me", fresh).status_code == 200
    # One user's logout leaves everybody else's tokens alone.
    assert make.call("GET", "/api/v1/me", world.resident_b).status_code == 200


def test_a_revoked_token_cannot_scan(make, world):
    aid = make.activity(world.team_a)
    body = {"code": "not-a-code", "direction": "in", "scan_id": "s-1"}
    before = make.call("POST", f"/api/v1/activities/{aid}/scans", world.leader_a, json=body)
    assert before.status_code == 200 and before.json["result"] == "invalid_code"
    make.call("POST", "/api/v1/auth/logout", make.relogin(world.leader_a))
    after = make.call("POST", f"/api/v1/activities/{aid}/scans", world.leader_a,
                      json={**body, "scan_id": "s-2"})
    batch = make.call("POST", f"/api/v1/activities/{aid}/scans/batch", world.leader_a,
                      json={"scans": [{**body, "scan_id": "s-3"}]})
    assert after.status_code == batch.status_code == 401


def test_a_revoked_token_is_not_replayed_an_idempotent_answer(make, world):
    headers = {"Idempotency-Key": "create-1"}
    body = {"name": "新社区", "street": "和平街道"}
    assert make.call("POST", "/api/v1/communities", world.admin, json=body,
                     headers=headers).status_code == 201
    make.call("POST", "/api/v1/auth/logout", make.relogin(world.admin))
    replay = make.call("POST", "/api/v1/communities", world.admin, json=body, headers=headers)
    assert replay.status_code == 401


def _staff_report(make, world, who: Person):
    return make.call("GET", f"/api/v1/communities/{world.a}/points/reconciliation", who)


def test_a_removed_staff_member_loses_the_token_and_the_role_at_once(make, world):
    assert _staff_report(make, world, world.staff_a).status_code == 200
    removed = make.call("DELETE", f"/api/v1/communities/{world.a}/staff/{world.staff_a.id}",
                        world.admin)
    assert removed.status_code == 204
    assert _staff_report(make, world, world.staff_a).status_code == 401
    again = make.relogin(world.staff_a)
    assert _staff_report(make, world, again).status_code == 403
    roles = make.call("GET", "/api/v1/me", again).json["roles"]
    assert not [role for role in roles if role["role"] == "staff"]
    # Somebody else's staff role is untouched; removing twice finds nobody.
    assert _staff_report(make, world, make.staff(world.a)).status_code == 200
    assert make.call("DELETE", f"/api/v1/communities/{world.a}/staff/{world.staff_a.id}",
                     world.admin).status_code == 404


def test_only_admins_remove_staff(make, world):
    staff2 = make.staff(world.a)
    refused = make.call("DELETE", f"/api/v1/communities/{world.a}/staff/{staff2.id}",
                        world.staff_a)
    assert refused.status_code == 403
    assert _staff_report(make, world, staff2).status_code == 200


def test_a_removed_leader_cannot_lead_the_team_any_more(make, world, soon):
    body = {"title": "义诊", "starts_at": soon(days=3), "ends_at": soon(days=3, hours=2),
            "capacity": 10}
    path = f"/api/v1/teams/{world.team_a}/activities"
    assert make.call("POST", path, world.leader_a, json=body).status_code == 201
    removed = make.call("DELETE", f"/api/v1/teams/{world.team_a}/members/{world.leader_a.id}",
                        world.staff_a)
    assert removed.status_code == 204
    assert make.call("POST", path, world.leader_a, json=body).status_code == 401
    again = make.relogin(world.leader_a)
    assert make.call("POST", path, again, json=body).status_code == 403
    members = make.call("GET", f"/api/v1/teams/{world.team_a}/members", world.staff_a).json
    assert world.leader_a.id not in [m["user_id"] for m in members["items"]]


def test_a_leader_removes_a_member_of_their_own_team_only(make, world):
    member = make.member(world.team_a, world.a)
    other = make.member(world.team_a2, world.a)
    assert make.call("DELETE", f"/api/v1/teams/{world.team_a2}/members/{other.id}",
                     world.leader_a).status_code == 403
    assert make.call("DELETE", f"/api/v1/teams/{world.team_a}/members/{member.id}",
                     world.leader_a).status_code == 204
    assert make.call("DELETE", f"/api/v1/teams/{world.team_b}/members/{world.leader_b.id}",
                     world.leader_a).status_code == 404  # another community's team
    assert make.call("GET", "/api/v1/me", other).status_code == 200
