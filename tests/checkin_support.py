"""Helpers shared by the check-in tests."""

from __future__ import annotations

import itertools
from datetime import datetime

from backend.checkin import codes
from backend.common.clock import now

_scan_ids = itertools.count(1)


def personal_code(app, user_id: int, at: datetime | None = None) -> str:
    with app.app_context():
        return codes.issue(codes.CodeKind.PERSONAL, user_id, at or now()).text


def poster_code(app, activity_id: int, at: datetime | None = None) -> str:
    with app.app_context():
        return codes.issue(codes.CodeKind.POSTER, activity_id, at or now()).text


def altered(code: str) -> str:
    """``code`` with one character of its signature changed: always a different code."""
    middle = len(code) // 2
    return code[:middle] + ("A" if code[middle] != "A" else "B") + code[middle + 1:]


def new_scan_id() -> str:
    return f"scan-{next(_scan_ids):06d}"


def scan_body(code: str, direction: str = "in", scan_id: str | None = None,
              scanned_at: datetime | None = None) -> dict:
    body = {"code": code, "direction": direction, "scan_id": scan_id or new_scan_id()}
    if scanned_at is not None:
        body["scanned_at"] = scanned_at.isoformat()
    return body


def scan(make, who, activity_id: int, code: str, direction: str = "in", **kwargs):
    return make.call("POST", f"/api/v1/activities/{activity_id}/scans", who,
                     json=scan_body(code, direction, **kwargs))
