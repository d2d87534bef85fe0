"""SPEC §2 conventions: one error envelope for everything, Idempotency-Key, OpenAPI."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.exc import OperationalError

from backend.communities.models import Community
from backend.extensions import db


def assert_envelope(response, status, code):
    assert response.status_code == status
    assert response.is_json
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]


def test_unknown_path_is_a_not_found_envelope(client):
    assert_envelope(client.get("/api/v1/nowhere"), 404, "not_found")


def test_wrong_method_is_an_envelope(client, make, world):
    response = make.call("PUT", "/api/v1/me", world.resident_a)
    assert_envelope(response, 405, "method_not_allowed")


@pytest.mark.parametrize("data, content_type", [
    ("{not json", "application/json"), ("null", "application/json"),
    ("[1, 2]", "application/json"), ("name=x", "application/x-www-form-urlencoded"),
    ("\xff\xfe", "application/json"),
])
def test_malformed_bodies_never_500(make, world, data, content_type):
    response = make.call("POST", "/api/v1/communities", world.admin, data=data,
                         content_type=content_type)
    assert 400 <= response.status_code < 500
    assert set(response.json["error"]) == {"code", "message", "details"}


def test_validation_error_lists_fields(make, world):
    response = make.call("POST", f"/api/v1/communities/{world.a}/join", world.outsider,
                         json={"real_name": "", "building": 3})
    assert_envelope(response, 422, "validation_error")
    fields = response.json["error"]["details"]["fields"]
    assert {"real_name", "building", "unit", "room"} <= set(fields)


def test_unexpected_errors_are_a_500_envelope(make, world, monkeypatch):
    from backend.notify import services

    def broken():
        raise RuntimeError("kaput")

    monkeypatch.setattr(services, "templates", broken)
    response = make.call("GET", "/api/v1/notifications/templates", world.resident_a)
    assert_envelope(response, 500, "internal_error")
    assert "kaput" not in response.get_data(as_text=True)


def test_database_down_is_a_503_envelope(app, make, world, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "get", refuse)
    response = make.call("GET", "/api/v1/me", world.resident_a)
    assert_envelope(response, 503, "unavailable")


def test_idempotent_post_replays_the_first_answer(app, make, world):
    headers = {"Idempotency-Key": "create-community-1"}
    body = {"name": "新建社区", "street": "和平街道"}
    first = make.call("POST", "/api/v1/communities", world.admin, json=body, headers=headers)
    second = make.call("POST", "/api/v1/communities", world.admin,
                       json={"street": "和平街道", "name": "新建社区"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json == second.json
    with app.app_context():
        assert db.session.query(Community).filter_by(name="新建社区").count() == 1


def test_same_key_different_body_is_refused(make, world):
    headers = {"Idempotency-Key": "k-1"}
    make.call("POST", "/api/v1/communities", world.admin, json={"name": "甲", "street": "乙"},
              headers=headers)
    reused = make.call("POST", "/api/v1/communities", world.admin,
                       json={"name": "丙", "street": "乙"}, headers=headers)
    assert_envelope(reused, 409, "idempotency_key_reused")


def test_keys_belong_to_their_user(app, make, world):
    headers = {"Idempotency-Key": "same-key"}
    aid = make.activity(world.team_a)
    mine = make.call("POST", f"/api/v1/activities/{aid}/signups", world.resident_a,
                     headers=headers)
    theirs = make.call("POST", f"/api/v1/activities/{aid}/signups", world.leader_a,
                       headers=headers)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json["id"] != theirs.json["id"]


def test_replayed_signup_does_nothing_twice(make, world):
    aid = make.activity(world.team_a)
    headers = {"Idempotency-Key": "tap-1"}
    first = make.call("POST", f"/api/v1/activities/{aid}/signups", world.resident_a,
                      headers=headers)
    make.call("DELETE", f"/api/v1/activities/{aid}/signups/me", world.resident_a)
    replay = make.call("POST", f"/api/v1/activities/{aid}/signups", world.resident_a,
                       headers=headers)
    assert replay.status_code == 201 and replay.json == first.json
    detail = make.call("GET", f"/api/v1/activities/{aid}", world.resident_a).json
    assert detail["my_signup"]["status"] == "cancelled"
    assert detail["confirmed_count"] == 0


def test_refusals_are_replayed_too(make, world):
    aid = make.activity(world.team_a, published=False)
    headers = {"Idempotency-Key": "publish-1"}
    make.call("POST", f"/api/v1/activities/{aid}/publish", world.leader_a, headers=headers)
    again = make.call("POST", f"/api/v1/activities/{aid}/publish", world.leader_a,
                      headers=headers)
    assert again.status_code == 200  # the first answer, not "already published"


def test_concurrent_requests_with_one_key_create_one_thing(app, make, world):
    import requests
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/api/v1/communities"
    headers = {**world.admin.headers, "Idempotency-Key": "burst"}
    barrier = threading.Barrier(12)

    def send(_):
        barrier.wait()
        return requests.post(url, json={"name": "并发社区", "street": "街"}, headers=headers,
                             timeout=30)

    try:
        with ThreadPoolExecutor(12) as pool:
            responses = list(pool.map(send, range(12)))
    finally:
        server.shutdown()
    assert {r.status_code for r in responses} <= {201, 409}
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["error"]["code"] == "idempotency_request_in_progress"
    with app.app_context():
        assert db.session.query(Community).filter_by(name="并发社区").count() == 1


def test_openapi_describes_the_api_with_the_envelope(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/activities/{aid}/signups" in spec["paths"]
    error = spec["components"]["schemas"]["ErrorEnvelope"]
    assert error["required"] == ["error"]
    signup_post = spec["paths"]["/api/v1/activities/{aid}/signups"]["post"]
    assert {"201", "200", "default"} <= set(signup_post["responses"])
    assert client.get("/api/v1/docs").status_code == 200
