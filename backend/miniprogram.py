"""The mock mini-program's pages at ``/mp/`` (SPEC §1), served by the API's own origin.

Same origin as ``/api/v1``, so the pages call the API with no CORS. The files are static
(plain ES modules, no build step) in ``miniprogram_mock/mp/``; ``config.json`` tells the
page where the WeChat platform is, because its ``wx.login`` gets codes from the mock's
``/_mock/login-code`` (which answers browsers with CORS headers already).

Every response carries a Content-Security-Policy: scripts only from this origin (no inline
script, no ``eval``), connections only to the API and the WeChat platform, no plugins, no
framing; styles only from ``app.css`` (the pages set classes, never ``style`` attributes).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, redirect, send_from_directory, url_for

PAGES_DIR = Path(__file__).resolve().parent.parent / "miniprogram_mock" / "mp"

bp = Blueprint("mp", __name__, url_prefix="/mp")


@bp.after_request
def content_security_policy(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = csp(current_app.config["WECHAT_API_BASE"])
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def csp(wechat_api_base: str) -> str:
    parts = urlsplit(wechat_api_base)
    wechat = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return "; ".join([
        "default-src 'self'", "script-src 'self'", f"connect-src 'self' {wechat}".strip(),
        "img-src 'self' blob: data:", "media-src 'self' blob: mediastream:",
        "style-src 'self'", "object-src 'none'", "base-uri 'none'",
        "form-action 'none'", "frame-ancestors 'none'",
    ])


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
