"""The mock WeChat platform (SPEC §3 "Mock WeChat server"), driven through Flask's test client."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import qrcode
from PIL import Image

from backend.config import DEFAULT_TEMPLATE_IDS
from miniprogram_mock.wx_server import create_app

APPID = "wx_dev_linli"
SECRET = "dev-wechat-secret"
TEMPLATE = "tmpl-signup-confirmed"
SEND = "/cgi-bin/message/subscribe/send"
CODE = "/wxa/getwxacodeunlimit"
BACKEND = Path(__file__).resolve().parent.parent / "backend"


@pytest.fixture
def wx():
    return create_app().test_client()


def login_code(wx, openid: str = "o-alice", **extra) -> str:
    return wx.post("/_mock/login-code", json={"openid": openid, **extra}).json["code"]


def code2session(wx, code: str, appid: str = APPID, secret: str = SECRET) -> dict:
    params = {
        "appid": appid,
        "secret": secret,
        "js_code": code,
        "grant_type": "authorization_code",
    }
    response = wx.get("/sns/jscode2session", query_string=params)
    assert response.status_code == 200  # WeChat answers errors with HTTP 200 too
    return response.json


def stable_token(wx, force_refresh: bool = False) -> dict:
    body = {
        "grant_type": "client_credential",
        "appid": APPID,
        "secret": SECRET,
        "force_refresh": force_refresh,
    }
    return wx.post("/cgi-bin/stable_token", json=body).json


@pytest.fixture
def token(wx) -> str:
    return stable_token(wx)["access_token"]


def advance(wx, seconds: float) -> None:
    wx.post("/_mock/clock", json={"advance_s": seconds})


def send(wx, token: str, **overrides) -> dict:
    body = {
        "touser": "o-alice",
        "template_id": TEMPLATE,
        "page": "pages/activity/detail?id=7",
        "data": {"thing1": {"value": "垃圾分类宣传"}, "time2": {"value": "2024年5月1日 09:00"}},
        **overrides,
    }
    return wx.post(f"{SEND}?access_token={token}", json=body).json


def subscribe(wx, openid: str = "o-alice", template_id: str = TEMPLATE) -> None:
    wx.post("/_mock/subscribe", json={"openid": openid, "template_id": template_id})


# -- code2Session ---------------------------------------------------------------------


def test_login_code_resolves_to_its_openid(wx):
    session = code2session(wx, login_code(wx, "o-alice"))
    assert session["openid"] == "o-alice"
    assert session["session_key"]
    assert "unionid" not in session
    assert "errcode" not in session


def test_login_code_carries_unionid_when_given(wx):
    session = code2session(wx, login_code(wx, "o-bob", unionid="u-bob"))
    assert session["unionid"] == "u-bob"


def test_login_code_is_one_time(wx):
    code = login_code(wx)
    code2session(wx, code)
    assert code2session(wx, code) == {"errcode": 40163, "errmsg": "code been used"}


def test_unknown_login_code_is_40029(wx):
    assert code2session(wx, "nope") == {"errcode": 40029, "errmsg": "invalid code"}


def test_login_code_expires_after_five_minutes(wx):
    code = login_code(wx)
    advance(wx, 301)
    assert code2session(wx, code)["errcode"] == 40029


def test_wrong_app_credentials_are_refused(wx):
    code = login_code(wx)
    assert code2session(wx, code, appid="wx_other")["errcode"] == 40013
    assert code2session(wx, code, secret="wrong")["errcode"] == 40125
    assert code2session(wx, code)["openid"] == "o-alice"  # refused calls don't burn the code


# -- access tokens --------------------------------------------------------------------


def test_stable_token_is_the_same_while_valid(wx):
    first = stable_token(wx)
    assert first["expires_in"] == 7200
    assert stable_token(wx)["access_token"] == first["access_token"]


def test_force_refresh_issues_a_new_token_and_kills_the_old(wx):
    old = stable_token(wx)["access_token"]
    new = stable_token(wx, force_refresh=True)["access_token"]
    assert new != old
    subscribe(wx)
    login_code(wx)
    assert send(wx, old)["errcode"] == 40001
    assert send(wx, new)["errcode"] == 0


def test_token_expires_after_7200_seconds(wx, token):
    login_code(wx)
    subscribe(wx)
    advance(wx, 7300)
    assert send(wx, token) == {"errcode": 42001, "errmsg": "access_token expired"}
    fresh = stable_token(wx)["access_token"]
    assert fresh != token
    assert send(wx, fresh)["errcode"] == 0


def test_unknown_and_missing_tokens(wx):
    assert send(wx, "forged")["errcode"] == 40001
    assert wx.post(SEND, json={}).json["errcode"] == 41001


def test_classic_token_endpoint(wx):
    params = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    body = wx.get("/cgi-bin/token", query_string=params).json
    assert body["expires_in"] == 7200
    assert len(body["access_token"]) >= 64
    bad = wx.get("/cgi-bin/token", query_string={**params, "secret": "x"}).json
    assert bad["errcode"] == 40125


def test_stable_token_wants_a_json_body(wx):
    assert wx.post("/cgi-bin/stable_token", data="appid=x").json["errcode"] == 47001


def test_force_refresh_within_30_seconds_returns_the_same_token(wx):
    first = stable_token(wx, force_refresh=True)["access_token"]
    advance(wx, 29)
    again = stable_token(wx, force_refresh=True)
    assert again["access_token"] == first
    assert 7100 <= again["expires_in"] <= 7171
    advance(wx, 2)  # 31 s after the refresh that took effect
    assert stable_token(wx, force_refresh=True)["access_token"] != first


def _to_next_beijing_midnight(wx) -> None:
    now = wx.get("/_mock/clock").json["now"]
    advance(wx, 86400 - (now + 8 * 3600) % 86400 + 60)


def test_force_refresh_is_limited_to_20_a_day(wx):
    _to_next_beijing_midnight(wx)  # twenty calls 31 s apart stay inside one Beijing day
    tokens = []
    for _ in range(20):
        tokens.append(stable_token(wx, force_refresh=True)["access_token"])
        advance(wx, 31)
    assert len(set(tokens)) == 20
    assert stable_token(wx, force_refresh=True) == {
        "errcode": 45009, "errmsg": "reach max api daily quota limit"}
    assert stable_token(wx)["access_token"] == tokens[-1]  # the normal mode still answers
    _to_next_beijing_midnight(wx)
    assert stable_token(wx, force_refresh=True)["access_token"] not in tokens


def test_superseded_classic_token_is_40001_after_five_minutes(wx):
    params = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    old = wx.get("/cgi-bin/token", query_string=params).json["access_token"]
    new = wx.get("/cgi-bin/token", query_string=params).json["access_token"]
    subscribe(wx)
    subscribe(wx)
    login_code(wx)
    assert send(wx, old)["errcode"] == 0  # both work while the platform hands over
    advance(wx, 301)
    assert send(wx, old) == {
        "errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
    assert send(wx, new)["errcode"] == 0
    advance(wx, 7200)
    assert send(wx, new)["errcode"] == 42001  # the latest one simply expired


@pytest.mark.parametrize("path", ["/cgi-bin/stable_token", SEND, CODE,
                                  "/wxa/business/getuserphonenumber"])
def test_get_to_a_post_api_is_43002_json(wx, path):
    response = wx.get(path)
    assert response.status_code == 200
    assert response.json == {"errcode": 43002, "errmsg": "require POST method"}


# -- subscribe messages ---------------------------------------------------------------


def test_send_without_subscription_is_43101(wx, token):
    login_code(wx)
    assert send(wx, token) == {"errcode": 43101, "errmsg": "user refuse to accept the msg"}


def test_each_subscription_allows_one_send(wx, token):
    subscribe(wx)
    subscribe(wx)
    first, second, third = (send(wx, token) for _ in range(3))
    assert first["errcode"] == 0 and first["errmsg"] == "ok"
    assert second["msgid"] != first["msgid"]
    assert third["errcode"] == 43101


def test_sent_messages_are_listed_per_openid(wx, token):
    subscribe(wx)
    subscribe(wx, openid="o-bob")
    msgid = send(wx, token)["msgid"]
    items = wx.get("/_mock/messages?openid=o-alice").json["items"]
    assert len(items) == 1
    message = items[0]
    assert message["msgid"] == msgid
    assert message["touser"] == "o-alice"
    assert message["template_id"] == TEMPLATE
    assert message["page"] == "pages/activity/detail?id=7"
    assert message["data"]["thing1"] == {"value": "垃圾分类宣传"}
    assert message["miniprogram_state"] == "formal"
    assert message["lang"] == "zh_CN"
    assert isinstance(message["sent_at"], int)
    assert wx.get("/_mock/messages?openid=o-bob").json["items"] == []


def test_subscription_is_per_template(wx, token):
    wx.post("/_mock/templates", json={"template_id": "tmpl-other"})
    subscribe(wx, template_id="tmpl-other")
    assert send(wx, token)["errcode"] == 43101
    listed = wx.get("/_mock/subscriptions?openid=o-alice").json["items"]
    assert listed == [{"template_id": "tmpl-other", "credits": 1}]


def test_unknown_openid_is_40003(wx, token):
    assert send(wx, token, touser="o-stranger")["errcode"] == 40003


@pytest.mark.parametrize("template_id", ["", "has space", "x" * 65])
def test_bad_template_id_is_40037(wx, token, template_id):
    subscribe(wx)
    assert send(wx, token, template_id=template_id)["errcode"] == 40037


def test_template_the_mini_program_does_not_hold_is_40037_not_43101(wx, token):
    login_code(wx)
    answer = send(wx, token, template_id="tmpl-signup-confirmd")  # a typo, well-formed
    assert answer == {"errcode": 40037, "errmsg": "invalid template_id"}
    # The template is looked up before its data is judged.
    bad_data = {"thing1": {"value": "一" * 21}}
    assert send(wx, token, template_id="tmpl-nope", data=bad_data)["errcode"] == 40037


def test_mock_holds_the_backends_default_templates(wx):
    held = set(wx.get("/_mock/templates").json["items"])
    assert set(DEFAULT_TEMPLATE_IDS.values()) <= held


def test_templates_registered_through_the_control_can_be_sent(wx, token):
    assert wx.post("/_mock/templates", json={"template_id": "tmpl-new-key"}).status_code == 201
    subscribe(wx, template_id="tmpl-new-key")
    assert send(wx, token, template_id="tmpl-new-key")["errcode"] == 0
    assert wx.post("/_mock/templates", json={"template_id": "bad id"}).status_code == 400


def test_a_template_removed_from_the_account_is_40037_even_with_a_credit(wx, token):
    subscribe(wx)
    assert wx.delete(f"/_mock/templates/{TEMPLATE}").status_code == 204
    assert send(wx, token)["errcode"] == 40037
    assert wx.get("/_mock/subscriptions?openid=o-alice").json["items"][0]["credits"] == 1
    assert wx.delete(f"/_mock/templates/{TEMPLATE}").status_code == 404


def test_subscribing_to_a_template_the_app_does_not_hold_fails(wx):
    response = wx.post("/_mock/subscribe", json={"openid": "o-alice", "template_id": "tmpl-x"})
    assert response.status_code == 400
    assert response.json["errCode"] == 20001  # wx.requestSubscribeMessage: template not found
    assert wx.get("/_mock/subscriptions?openid=o-alice").json["items"] == []


@pytest.mark.parametrize(("fmt", "expected"), [("int", int), ("string", str), ("missing", None)])
def test_msgid_format_can_be_set(wx, token, fmt, expected):
    subscribe(wx)
    assert wx.post("/_mock/msgid-format", json={"format": fmt}).status_code == 200
    answer = send(wx, token)
    assert answer["errcode"] == 0
    if expected is None:
        assert "msgid" not in answer
    else:
        assert isinstance(answer["msgid"], expected)
        assert int(answer["msgid"]) == wx.get("/_mock/messages").json["items"][0]["msgid"]


@pytest.mark.parametrize(
    "page", ["/pages/index/index", "https://example.com/x", "pages/a b", "pages//x"]
)
def test_bad_page_is_41030(wx, token, page):
    subscribe(wx)
    assert send(wx, token, page=page) == {"errcode": 41030, "errmsg": "invalid page"}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("thing1", "一" * 20),
        ("number2", "12.50"),
        ("letter3", "ABC"),
        ("symbol4", "%"),
        ("character_string5", "ORDER-2024-001"),
        ("time6", "15:01"),
        ("time6", "2019年10月1日 15:01~17:00"),
        ("date7", "2024-05-01"),
        ("date7", "2024年5月1日 09:00"),
        ("amount8", "¥100.50"),
        ("phone_number9", "+86-13800138000"),
        ("car_number10", "粤A8Z888挂"),
        ("name11", "张三"),
        ("name11", "Alexander Hamilton"),
        ("phrase12", "已确认"),
    ],
)
def test_data_values_within_limits_are_accepted(wx, token, key, value):
    subscribe(wx)
    assert send(wx, token, data={key: {"value": value}})["errcode"] == 0


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("thing1", "一" * 21),
        ("thing1", ""),
        ("number2", "12a"),
        ("number2", "1" * 33),
        ("letter3", "AB1"),
        ("symbol4", "%%%%%%"),
        ("character_string5", "订单1"),
        ("time6", "25:00"),
        ("time6", "tomorrow"),
        ("date7", "2024-02-30"),
        ("date7", "09:00"),
        ("amount8", "一百元"),
        ("phone_number9", "1" * 18),
        ("car_number10", "粤A8Z888挂12"),
        ("name11", "张" * 11),
        ("name11", "A" * 21),
        ("phrase12", "confirmed"),
        ("phrase12", "六个汉字太长"),
        ("unknown1", "x"),
    ],
)
def test_data_values_beyond_limits_are_47003(wx, token, key, value):
    subscribe(wx)
    answer = send(wx, token, data={key: {"value": value}})
    assert answer == {"errcode": 47003, "errmsg": f"argument invalid! data.{key}.value invalid"}
    assert wx.get("/_mock/subscriptions?openid=o-alice").json["items"][0]["credits"] == 1


def test_refused_send_keeps_the_credit(wx, token):
    subscribe(wx)
    assert send(wx, token, page="/bad")["errcode"] == 41030
    assert send(wx, token)["errcode"] == 0


# -- mini-program codes ---------------------------------------------------------------


def _modules(png: bytes, size: int) -> list[list[bool]]:
    """Read the dark/light modules back out of the image, sampling each module's centre."""
    image = Image.open(io.BytesIO(png)).convert("L")
    box = image.width // size
    return [
        [image.getpixel((x * box + box // 2, y * box + box // 2)) < 128 for x in range(size)]
        for y in range(size)
    ]


def code(wx, token: str, **body):
    return wx.post(f"{CODE}?access_token={token}", json={"scene": "t=1", **body})


def test_getwxacodeunlimit_returns_a_qr_png_of_the_scene(wx, token):
    body = {"scene": "a=17&k=Xy9", "page": "pages/duty/shifts", "width": 430}
    response = wx.post(f"/wxa/getwxacodeunlimit?access_token={token}", json=body)
    assert response.mimetype == "image/png"
    assert response.data.startswith(b"\x89PNG")
    expected = qrcode.QRCode(border=4)
    expected.add_data("a=17&k=Xy9")
    expected.make(fit=True)
    matrix = expected.get_matrix()
    assert _modules(response.data, len(matrix)) == matrix
    assert 280 <= Image.open(io.BytesIO(response.data)).width <= 430


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        ({"scene": "x" * 33}, 40169),
        ({"scene": ""}, 40169),
        ({"scene": "中文"}, 40169),
        ({"scene": "ok", "page": "/pages/index/index"}, 41030),
        ({"scene": "ok", "page": "pages/index/index?x=1"}, 41030),
        ({"scene": "ok", "env_version": "beta"}, 40097),
    ],
)
def test_getwxacodeunlimit_errors_are_json(wx, token, body, errcode):
    response = wx.post(f"/wxa/getwxacodeunlimit?access_token={token}", json=body)
    assert response.mimetype == "application/json"
    assert response.json["errcode"] == errcode


def test_released_pages_cover_every_page_the_backend_links_to(wx):
    named = {match for path in BACKEND.rglob("*.py")
             for match in re.findall(r"pages/[A-Za-z0-9_/-]+", path.read_text("utf-8"))}
    assert named, "the backend names no page: the search went wrong"
    assert named <= set(wx.get("/_mock/pages").json["items"])


def test_code_for_a_page_not_in_the_released_version_is_41030(wx, token):
    answer = code(wx, token, page="pages/duty/roster-draft")
    assert answer.mimetype == "application/json"
    assert answer.json == {"errcode": 41030, "errmsg": "invalid page"}
    assert code(wx, token, page="pages/duty/shifts").mimetype == "image/png"
    assert wx.get("/_mock/codes").json["items"][0]["page"] == "pages/duty/shifts"


def test_check_path_false_allows_a_page_not_yet_released(wx, token):
    answer = code(wx, token, page="pages/duty/roster-draft", check_path=False)
    assert answer.mimetype == "image/png"


@pytest.mark.parametrize("env_version", ["trial", "develop"])
def test_check_path_looks_at_the_release_whatever_version_the_code_opens(
        wx, token, env_version):
    page = "pages/duty/roster-draft"  # only in the trial/develop build
    assert code(wx, token, page=page, env_version=env_version).json["errcode"] == 41030
    answer = code(wx, token, page=page, env_version=env_version, check_path=False)
    assert answer.mimetype == "image/png"
    [issued] = wx.get("/_mock/codes").json["items"]
    assert issued["env_version"] == env_version and issued["check_path"] is False


def test_check_path_must_be_a_boolean(wx, token):
    assert code(wx, token, page="pages/duty/roster-draft", check_path="false").json == {
        "errcode": 47001, "errmsg": "data format error"}


def test_a_new_release_changes_which_pages_pass(wx, token):
    released = wx.post("/_mock/pages", json={"page": "pages/duty/roster-draft"})
    assert released.status_code == 201 and "pages/duty/roster-draft" in released.json["items"]
    assert code(wx, token, page="pages/duty/roster-draft").mimetype == "image/png"
    assert wx.put("/_mock/pages", json={"pages": ["pages/points/index"]}).status_code == 200
    assert code(wx, token, page="pages/duty/shifts").json["errcode"] == 41030
    wx.put("/_mock/pages", json={"pages": []})  # never released: not even the home page
    assert code(wx, token).json["errcode"] == 41030
    assert code(wx, token, check_path=False).mimetype == "image/png"
    assert wx.post("/_mock/pages", json={"page": "/pages/x"}).status_code == 400


# -- phone numbers --------------------------------------------------------------------


def test_phone_code_gives_the_phone_number_once(wx, token):
    code = wx.post("/_mock/phone-code", json={"openid": "o-alice", "phone": "13800138000"})
    url = f"/wxa/business/getuserphonenumber?access_token={token}"
    body = wx.post(url, json={"code": code.json["code"]}).json
    assert body["errcode"] == 0 and body["errmsg"] == "ok"
    info = body["phone_info"]
    assert info["phoneNumber"] == info["purePhoneNumber"] == "13800138000"
    assert info["countryCode"] == "86"
    assert info["watermark"]["appid"] == APPID
    assert wx.post(url, json={"code": code.json["code"]}).json["errcode"] == 40029
    assert wx.post(url, json={"code": "nope"}).json["errcode"] == 40029


# -- faults, stats, reset -------------------------------------------------------------


def test_faults_answer_the_next_n_calls(wx, token):
    subscribe(wx)
    wx.post("/_mock/faults", json={"path": SEND, "errcode": 45011, "times": 2})
    assert send(wx, token)["errcode"] == 45011
    assert send(wx, token)["errcode"] == 45011
    assert send(wx, token)["errcode"] == 0


def test_fault_can_be_system_busy_with_custom_message(wx, token):
    wx.post("/_mock/faults", json={"path": SEND, "errcode": -1, "errmsg": "busy"})
    assert send(wx, token) == {"errcode": -1, "errmsg": "busy"}


def test_fault_can_be_an_http_error(wx):
    wx.post("/_mock/faults", json={"path": "/cgi-bin/stable_token", "status": 502})
    response = wx.post("/cgi-bin/stable_token", json={})
    assert response.status_code == 502
    assert response.mimetype == "text/html"


def test_fault_without_path_is_400(wx):
    assert wx.post("/_mock/faults", json={"errcode": -1}).status_code == 400


def test_stats_count_calls_per_path(wx):
    stable_token(wx)
    stable_token(wx)
    code2session(wx, "nope")
    calls = wx.get("/_mock/stats").json["calls"]
    assert calls == {"/cgi-bin/stable_token": 2, "/sns/jscode2session": 1}


def test_reset_clears_everything(wx, token):
    subscribe(wx)
    send(wx, token)
    wx.post("/_mock/faults", json={"path": SEND, "errcode": -1})
    templates, pages = (wx.get(f"/_mock/{what}").json["items"] for what in ("templates", "pages"))
    wx.post("/_mock/templates", json={"template_id": "tmpl-extra"})
    wx.put("/_mock/pages", json={"pages": []})
    wx.post("/_mock/reset")
    assert wx.get("/_mock/messages?openid=o-alice").json["items"] == []
    assert wx.get("/_mock/stats").json == {"calls": {}, "messages_sent": 0}
    assert send(wx, token)["errcode"] == 40001  # tokens are gone too
    assert wx.get("/_mock/templates").json["items"] == templates  # back to the seed
    assert wx.get("/_mock/pages").json["items"] == pages


def test_control_endpoints_allow_browser_pages(wx):
    response = wx.post("/_mock/login-code", json={"openid": "o-alice"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
