"""The WeChat platform endpoints the backend calls, with the platform's request and
response shapes: errors are HTTP 200 + ``{"errcode", "errmsg"}``."""

from __future__ import annotations

import io
import json
from typing import Any

import qrcode
from flask import Blueprint, Response, request

from miniprogram_mock.wx_server import rules
from miniprogram_mock.wx_server.errors import WxFault
from miniprogram_mock.wx_server.state import MockState, current_state

bp = Blueprint("wechat", __name__)


def _json_body(errcode: int = 47001) -> dict[str, Any]:
    # The platform reads the raw body as JSON whatever the Content-Type says.
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise WxFault(errcode)
    return body


def _check_credentials(state: MockState, appid: Any, secret: Any) -> None:
    if not appid:
        raise WxFault(41002)
    if appid != state.appid:
        raise WxFault(40013)
    if not secret:
        raise WxFault(41004)
    if secret != state.secret:
        raise WxFault(40125)


def _check_grant(grant_type: Any, expected: str = "client_credential") -> None:
    if grant_type != expected:
        raise WxFault(40002)


@bp.get("/sns/jscode2session")
def jscode2session() -> dict[str, str]:
    state = current_state()
    _check_credentials(state, request.args.get("appid"), request.args.get("secret"))
    _check_grant(request.args.get("grant_type"), "authorization_code")
    code = request.args.get("js_code")
    if not code:
        raise WxFault(41008)
    return state.redeem_login_code(code)


@bp.get("/cgi-bin/token")
def classic_token() -> dict[str, Any]:
    state = current_state()
    _check_grant(request.args.get("grant_type"))
    _check_credentials(state, request.args.get("appid"), request.args.get("secret"))
    token, expires_in = state.issue_classic_token()
    return {"access_token": token, "expires_in": expires_in}


@bp.post("/cgi-bin/stable_token")
def stable_token() -> dict[str, Any]:
    state = current_state()
    body = _json_body()
    _check_grant(body.get("grant_type"))
    _check_credentials(state, body.get("appid"), body.get("secret"))
    token, expires_in = state.issue_stable_token(bool(body.get("force_refresh")))
    return {"access_token": token, "expires_in": expires_in}


@bp.post("/cgi-bin/message/subscribe/send")
def subscribe_send() -> dict[str, Any]:
    state = current_state()
    state.check_token(request.args.get("access_token"))
    body = _json_body()
    state.require_openid(body.get("touser"))
    # The template is looked up before its data is read: a well-formed id the
    # mini-program does not hold is 40037, whatever the data says.
    if not (rules.is_template_id(body.get("template_id"))
            and state.has_template(body["template_id"])):
        raise WxFault(40037)
    message = rules.build_message(body)
    msgid = state.deliver(message)
    return {"errcode": 0, "errmsg": "ok", **state.msgid_field(msgid)}


@bp.post("/wxa/getwxacodeunlimit")
def getwxacodeunlimit() -> Response:
    state = current_state()
    state.check_token(request.args.get("access_token"))
    body = _json_body(errcode=40169)
    rules.check_scene(body.get("scene"))
    page = body.get("page") or None
    if page is not None:
        rules.check_page(page, allow_query=False)
    check_path = body.get("check_path", True)
    env_version = body.get("env_version", "release")
    if not isinstance(check_path, bool):
        raise WxFault(47001)  # "false" as a string is a format error, not false
    if env_version not in rules.ENV_VERSIONS:
        raise WxFault(40097)
    # check_path looks in the *released* version whatever env_version the code opens
    # (a trial-only page needs check_path=false); false skips the check altogether.
    if check_path and not state.is_released(page):
        raise WxFault(41030)
    state.record_code({"scene": body["scene"], "page": page, "check_path": check_path,
                       "env_version": env_version})
    width = _clamp_width(body.get("width", 430))
    return Response(render_qr_png(body["scene"], width), mimetype="image/png")


@bp.post("/wxa/business/getuserphonenumber")
def getuserphonenumber() -> dict[str, Any]:
    state = current_state()
    state.check_token(request.args.get("access_token"))
    body = _json_body()
    if not body.get("code"):
        raise WxFault(41008)
    phone_info = state.redeem_phone_code(str(body["code"]), body.get("openid"))
    return {"errcode": 0, "errmsg": "ok", "phone_info": phone_info}


def _clamp_width(width: Any) -> int:
    # The platform quietly clamps width into 280..1280 rather than refusing it.
    try:
        return min(max(int(width), 280), 1280)
    except (TypeError, ValueError):
        return 430


def render_qr_png(text: str, width: int) -> bytes:
    """A plain QR code of ``text`` (the scene), about ``width`` pixels wide, as PNG.

    A real mini-program code is a round "sun code"; a QR of the scene keeps the image
    decodable by ordinary scanners, which is what the mock mini-program needs.
    """
    code = qrcode.QRCode(border=4)
    code.add_data(text)
    code.make(fit=True)
    modules = code.modules_count + 2 * code.border
    code.box_size = max(1, width // modules)
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return buffer.getvalue()
