"""``/_mock/*``: the test and development controls (not part of WeChat's API).

They play the parts WeChat plays on the phone: ``wx.login`` codes, a user accepting a
subscribe message, a phone-number button; the parts an operator plays in the 公众平台
console: the templates the mini-program holds, the pages of its released version; and they
let tests inspect what was sent, inject faults and move the clock.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request

from miniprogram_mock.wx_server import rules
from miniprogram_mock.wx_server.errors import WxFault
from miniprogram_mock.wx_server.state import MSGID_FORMATS, Fault, current_state

bp = Blueprint("mock_control", __name__, url_prefix="/_mock")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _required(body: dict[str, Any], *names: str) -> list[str]:
    missing = [name for name in names if not body.get(name)]
    if missing:
        abort(400, description=f"missing: {', '.join(missing)}")
    return [str(body[name]) for name in names]


@bp.post("/login-code")
def login_code() -> dict[str, str]:
    body = _body()
    (openid,) = _required(body, "openid")
    return {"code": current_state().issue_login_code(openid, body.get("unionid"))}


@bp.post("/phone-code")
def phone_code() -> dict[str, str]:
    body = _body()
    openid, phone = _required(body, "openid", "phone")
    country = str(body.get("country_code") or "86")
    return {"code": current_state().issue_phone_code(openid, phone, country)}


@bp.post("/subscribe")
def subscribe() -> Any:
    openid, template_id = _required(_body(), "openid", "template_id")
    state = current_state()
    if not state.has_template(template_id):
        # wx.requestSubscribeMessage fails as a whole for a template the app does not hold.
        return jsonify({"error": f"template not found: {template_id}", "errCode": 20001}), 400
    credits = state.grant(openid, template_id)
    return {"openid": openid, "template_id": template_id, "credits": credits}


@bp.get("/templates")
def templates() -> dict[str, Any]:
    return {"items": current_state().templates()}


@bp.post("/templates")
def add_template() -> tuple[dict[str, Any], int]:
    (template_id,) = _required(_body(), "template_id")
    if not rules.is_template_id(template_id):
        abort(400, description="template_id: 1-64 letters, digits, '_' or '-'")
    current_state().add_template(template_id)
    return {"template_id": template_id}, 201


@bp.delete("/templates/<template_id>")
def remove_template(template_id: str) -> tuple[str, int]:
    return "", (204 if current_state().remove_template(template_id) else 404)


@bp.get("/pages")
def pages() -> dict[str, Any]:
    return {"items": current_state().released_pages()}


@bp.post("/pages")
def release_page() -> tuple[dict[str, Any], int]:
    """One more page in the released version (``{"page"}``)."""
    (page,) = _required(_body(), "page")
    _check_page(page)
    return {"items": current_state().release_pages([page])}, 201


@bp.put("/pages")
def release_version() -> dict[str, Any]:
    """A new release: its pages are exactly ``{"pages": [...]}`` (``[]``: none released)."""
    pages = _body().get("pages")
    if not isinstance(pages, list):
        abort(400, description="pages must be a list")
    for page in pages:
        _check_page(page)
    return {"items": current_state().release_pages(pages, replace=True)}


def _check_page(page: Any) -> None:
    try:
        rules.check_page(page, allow_query=False)
    except WxFault:
        abort(400, description=f"not a page path: {page!r}")


@bp.get("/codes")
def codes() -> dict[str, Any]:
    """The mini-program codes issued, with the page and env_version each opens."""
    return {"items": current_state().codes()}


@bp.post("/msgid-format")
def msgid_format() -> dict[str, str]:
    """How subscribe/send answers carry ``msgid``: ``int`` (documented), ``string``, or
    ``missing`` — a client must read any of them."""
    (fmt,) = _required(_body(), "format")
    if fmt not in MSGID_FORMATS:
        abort(400, description=f"format must be one of {', '.join(MSGID_FORMATS)}")
    current_state().set_msgid_format(fmt)
    return {"format": fmt}


@bp.get("/subscriptions")
def subscriptions() -> dict[str, Any]:
    return {"items": current_state().credits(request.args.get("openid", ""))}


@bp.get("/messages")
def messages() -> dict[str, Any]:
    state = current_state()
    items = state.messages(request.args.get("openid"), request.args.get("template_id"))
    return {"items": items}


@bp.post("/faults")
def faults() -> tuple[dict[str, Any], int]:
    body = _body()
    (path,) = _required(body, "path")
    if not path.startswith("/"):
        abort(400, description="path must start with /")
    fault = _fault_from(body)
    current_state().add_fault(path, fault)
    return {"path": path, **fault.__dict__}, 201


def _fault_from(body: dict[str, Any]) -> Fault:
    try:
        return Fault(
            errcode=None if body.get("errcode") is None else int(body["errcode"]),
            errmsg=body.get("errmsg"),
            remaining=int(body.get("times", 1)),
            delay_s=float(body.get("delay_s", 0)),
            status=int(body.get("status", 200)),
        )
    except (TypeError, ValueError):
        abort(400, description="errcode, times, status must be integers; delay_s a number")


@bp.post("/clock")
def clock() -> dict[str, float]:
    advance_s = _body().get("advance_s", 0)
    if not isinstance(advance_s, int | float):
        abort(400, description="advance_s must be a number")
    return {"now": current_state().advance(float(advance_s))}


@bp.get("/clock")
def read_clock() -> dict[str, float]:
    return {"now": current_state().now()}


@bp.post("/reset")
def reset() -> dict[str, bool]:
    current_state().reset()
    return {"ok": True}


@bp.get("/stats")
def stats() -> dict[str, Any]:
    return current_state().stats()


@bp.errorhandler(400)
def bad_request(error: Any) -> tuple[Any, int]:
    return jsonify({"error": error.description}), 400
