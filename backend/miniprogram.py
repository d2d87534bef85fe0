"""The mock mini-program's pages at ``/mp/`` (SPEC §1), served by the API's own origin.

Same origin as ``/api/v1``, so the pages call the API with no CORS. The files are static
(plain ES modules, no build step) in ``miniprogram_mock/mp/``; ``config.json`` tells the
page where the WeChat platform is, because its ``wx.login`` gets codes from the mock's
``/_mock/login-code`` (which answers browsers with CORS headers already).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, redirect, send_from_directory, url_for

PAGES_DIR = Path(__file__).resolve().parent.parent / "miniprogram_mock" / "mp"

bp = Blueprint("mp", __name__, url_prefix="/mp")


@bp.get("")
def root():
    return redirect(url_for("mp.index"))


@bp.get("/")
def index():
    return _static("index.html")


@bp.get("/config.json")
def config() -> dict[str, str]:
    return {"wechat_api_base": current_app.config["WECHAT_API_BASE"], "api_base": "/api/v1"}


@bp.get("/<path:filename>")
def static_file(filename: str):
    return _static(filename)


def _static(filename: str):
    # The pages are modules that change with the API; a stale cached copy would mislead.
    response = send_from_directory(PAGES_DIR, filename, max_age=0)
    if filename.endswith(".js"):
        response.mimetype = "text/javascript"
    return response
