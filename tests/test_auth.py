"""WeChat login, tokens, /me and roles (SPEC §3)."""

from __future__ import annotations

from datetime import timedelta

import requests
import time_machine

from backend.common.clock import now
from tests.conftest import ADMIN_OPENID


def login_code(mock_wx: str, openid: str) -> str:
    return requests.post(f"{mock_wx}/_mock/login-code", json={"openid": openid},
                         timeout=5).json()["code"]


def login(client, code: str):
    return client.post("/api/v1/auth/wechat-login", json={"code": code})


def test_first_login_creates_the_user(client, mock_wx):
    response = login(client, login_code(mock_wx, "o-new-resident"))
    assert response.status_code == 200
    body = response.json
    assert body["is_new"] is True
    assert body["user"]["roles"] == []
    assert body["user"]["nickname"]
    assert "session_key" not in response.get_data(as_text=True)
    again = login(client, login_code(mock_wx, "o-new-resident"))
    assert again.json["is_new"] is False
    assert again.json["user"]["id"] == body["user"]["id"]


def test_the_token_authenticates_me(client, mock_wx):
    token = login(client, login_code(mock_wx, "o-someone")).json["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json["roles"] == [] and me.json["resident"] is None


def test_a_used_code_is_refused(client, mock_wx):
    code = login_code(mock_wx, "o-twice")
    assert login(client, code).status_code == 200
    response = login(client, code)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_login_code"


def test_a_made_up_code_is_refused(client, mock_wx):
    response = login(client, "not-a-real-code")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_login_code"


def test_login_without_code_is_a_validation_error(client, mock_wx):
    response = client.post("/api/v1/auth/wechat-login", json={})
    assert response.status_code == 422
    assert "code" in response.json["error"]["details"]["fields"]


def test_bootstrap_openids_are_admins(client, mock_wx):
    response = login(client, login_code(mock_wx, ADMIN_OPENID))
    assert {"role": "admin", "community_id": None, "team_id": None} in \
        response.json["user"]["roles"]


def test_wechat_down_is_unavailable_not_an_error(app, mock_wx):
    app.config["WECHAT_API_BASE"] = "http://127.0.0.1:9"
    try:
        response = app.test_client().post("/api/v1/auth/wechat-login", json={"code": "x"})
    finally:
        app.config["WECHAT_API_BASE"] = mock_wx
    assert response.status_code == 503
    assert response.json["error"]["code"] == "unavailable"


def test_missing_or_bad_token_is_unauthenticated(client, make):
    for headers in ({}, {"Authorization": "Bearer forged.token.value"},
                    {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthenticated"


def test_tokens_expire(app, client, make):
    person = make.user()
    with time_machine.travel(now() + timedelta(seconds=app.config["TOKEN_MAX_AGE_S"] + 5)):
        response = client.get("/api/v1/me", headers=person.headers)
    assert response.status_code == 401


def test_token_of_a_secret_from_elsewhere_is_refused(app, client, make):
    from itsdangerous import URLSafeTimedSerializer

    forged = URLSafeTimedSerializer("another-secret", salt="linli-auth-token").dumps({"uid": 1})
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_me_lists_every_role(make, world):
    make.call("POST", f"/api/v1/communities/{world.a}/staff", world.admin,
              json={"user_id": world.leader_a.id})
    me = make.call("GET", "/api/v1/me", world.leader_a).json
    assert {"role": "staff", "community_id": world.a, "team_id": None} in me["roles"]
    assert {"role": "leader", "community_id": world.a, "team_id": world.team_a} in me["roles"]
    assert {"role": "resident", "community_id": world.a, "team_id": None} in me["roles"]
    assert me["resident"]["real_name"] == "王大力"


def test_logins_are_rate_limited_per_address(app, client, mock_wx, redis_url):
    limit = app.config["LOGIN_RATE_PER_MIN"]
    app.config["LOGIN_RATE_PER_MIN"] = 3
    try:
        with time_machine.travel(now().replace(second=5), tick=False):
            statuses = [login(client, f"bad-code-{i}").status_code for i in range(4)]
            limited = login(client, login_code(mock_wx, "o-too-fast"))
        with time_machine.travel(now().replace(second=5) + timedelta(minutes=1), tick=False):
            next_minute = login(client, login_code(mock_wx, "o-too-fast"))
    finally:
        app.config["LOGIN_RATE_PER_MIN"] = limit
    assert statuses == [401, 401, 401, 429]
    assert limited.status_code == 429
    assert limited.json["error"]["code"] == "rate_limited"
    assert next_minute.status_code == 200


def test_login_works_when_redis_is_down(app, mock_wx):
    app.extensions.pop("linli_redis", None)
    app.config["REDIS_URL"] = "redis://127.0.0.1:9/0"
    try:
        response = login(app.test_client(), login_code(mock_wx, "o-no-redis"))
    finally:
        app.extensions.pop("linli_redis", None)
        app.extensions.pop("linli_wechat", None)
        app.config["REDIS_URL"] = app.config["_TEST_REDIS_URL"]
    assert response.status_code == 200


def test_logins_are_rate_limited_per_wechat_user_from_any_address(app, client, mock_wx,
                                                                  redis_url):
    limit = app.config["LOGIN_USER_RATE_PER_MIN"]
    app.config["LOGIN_USER_RATE_PER_MIN"] = 2
    try:
        with time_machine.travel(now().replace(second=5), tick=False):
            statuses = [client.post("/api/v1/auth/wechat-login",
                                    json={"code": login_code(mock_wx, "o-many-phones")},
                                    environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code
                        for i in range(3)]
            someone_else = login(client, login_code(mock_wx, "o-calm"))
    finally:
        app.config["LOGIN_USER_RATE_PER_MIN"] = limit
    assert statuses == [200, 200, 429]
    assert someone_else.status_code == 200


def test_behind_a_proxy_the_address_before_it_is_counted(app, mock_wx, redis_url):
    from tests.conftest import make_app

    proxied = make_app(app.config["SQLALCHEMY_DATABASE_URI"], redis_url, mock_wx,
                       PROXY_COUNT=1, LOGIN_RATE_PER_MIN=1)
    client = proxied.test_client()
    with time_machine.travel(now().replace(second=5), tick=False):
        statuses = [client.post("/api/v1/auth/wechat-login", json={"code": f"bad-{i}"},
                                headers={"X-Forwarded-For": f"203.0.113.{i % 2}"}).status_code
                    for i in range(4)]
    # Two residents behind one proxy each have their own bucket.
    assert statuses == [401, 401, 429, 429]
