"""The mock WeChat platform as a Flask app, and a helper that serves it from a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.serving import WSGIRequestHandler, make_server

from backend.config import DEFAULT_TEMPLATE_IDS
from miniprogram_mock.wx_server import control, wechat_api
from miniprogram_mock.wx_server.errors import ERRMSG, WxFault
from miniprogram_mock.wx_server.state import MockState, current_state

DEFAULT_APPID = "wx_dev_linli"
DEFAULT_SECRET = "dev-wechat-secret"
# The subscribe-message templates the dev mini-program holds: the backend's defaults (new
# keys there are picked up; tests register others through POST /_mock/templates).
DEFAULT_TEMPLATES = tuple(DEFAULT_TEMPLATE_IDS.values())
# Pages of the released version: every page the backend links to (notices, codes).
# tests/test_wx_mock.py checks that this covers every "pages/..." the backend names.
RELEASED_PAGES = (
    "pages/activity/detail",
    "pages/duty/shifts",
    "pages/points/index",
    "pages/redemptions/detail",
    "pages/voice/need",
)


def create_app(
    appid: str = DEFAULT_APPID,
    secret: str = DEFAULT_SECRET,
    templates: Iterable[str] = DEFAULT_TEMPLATES,
    pages: Iterable[str] = RELEASED_PAGES,
) -> Flask:
    """A fresh platform: ``appid``/``secret`` are the only valid credentials, ``templates``
    the subscribe-message templates the mini-program holds, ``pages`` its released pages."""
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["wx_mock"] = MockState(appid, secret, templates, pages)
    app.register_blueprint(wechat_api.bp)
    app.register_blueprint(control.bp)
    app.register_error_handler(WxFault, _fault_response)
    app.register_error_handler(MethodNotAllowed, _wrong_method)
    app.before_request(_count_and_inject_faults)
    app.after_request(_allow_browser_controls)
    return app


def _fault_response(fault: WxFault) -> Response:
    # The platform answers errors with HTTP 200; only the body says it failed.
    return jsonify(fault.body())


def _wrong_method(error: MethodNotAllowed) -> Response:
    # WeChat answers a wrong method with its JSON error (HTTP 200), not an HTML 405.
    if request.path.startswith("/_mock/"):
        return error.get_response()
    allowed = set(error.valid_methods or ())
    errcode = 43002 if "POST" in allowed else 43001
    return jsonify({"errcode": errcode, "errmsg": ERRMSG[errcode]})


def _count_and_inject_faults() -> Response | None:
    if request.path.startswith("/_mock/"):
        return None
    fault = current_state().take_call(request.path)
    if fault is None:
        return None
    if fault.delay_s:
        time.sleep(fault.delay_s)
    if fault.status != 200:
        html = f"<html><body><h1>{fault.status}</h1></body></html>"
        return Response(html, status=fault.status, mimetype="text/html")
    if fault.errcode is None:
        return None  # a pure delay: answer normally, late
    errmsg = fault.errmsg or ERRMSG.get(fault.errcode, "error")
    return jsonify({"errcode": fault.errcode, "errmsg": errmsg})


def _allow_browser_controls(response: Response) -> Response:
    # The mock mini-program pages (another origin) call /_mock/* from the browser.
    if request.path.startswith("/_mock/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    return response


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # tests and benchmarks make thousands of calls


def start_in_thread(
    host: str = "127.0.0.1", port: int = 0, **kw: Any
) -> tuple[str, Callable[[], None]]:
    """Serve a fresh mock (``kw`` go to :func:`create_app`) from a daemon thread.

    Returns ``(base_url, stop)``; ``port=0`` picks a free port.
    """
    server = make_server(host, port, create_app(**kw), threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="wx-mock", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://{host}:{server.server_port}", stop
