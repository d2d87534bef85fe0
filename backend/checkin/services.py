"""Check-in use cases: codes, scans (live, offline batches, self-service), the scanner kit.

Each function here is one request's transaction and commits once, through
``unit_of_work``: the scan statements run on the session's connection, so anything else a
scan writes commits with it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import select

from backend.activities.models import Activity, Signup
from backend.activities.services import get_managed_activity, get_visible_activity
from backend.auth.models import User
from backend.auth.services import current_user, require_current_token
from backend.checkin import codes, scans, statements
from backend.checkin.codes import CodeKind
from backend.checkin.models import Direction, ScanResult
from backend.common import idempotency, ratelimit
from backend.common.clock import now
from backend.common.transactions import unit_of_work
from backend.communities.services import display_names
from backend.errors import NotFound, ValidationFailed
from backend.extensions import db
from backend.refusals import FORBIDDEN, SCAN_IN_PROGRESS, SELF_CHECKIN_NOT_ALLOWED, UPLOAD_TOO_LATE

T = TypeVar("T")


def my_code(user: User) -> codes.CheckinCode:
    return codes.issue(CodeKind.PERSONAL, user.id, now())


def poster_code(actor: User, activity_id: int) -> codes.CheckinCode:
    """The rotating code a team shows at the venue for residents to scan themselves."""
    activity = get_managed_activity(actor, activity_id)
    if not activity.self_checkin_allowed:
        raise SELF_CHECKIN_NOT_ALLOWED()
    return codes.issue(CodeKind.POSTER, activity.id, now())


def scan(actor_id: int, activity_id: int, item: dict[str, Any]) -> dict[str, Any]:
    """One scan at the door: the code is read first, so that one query fetches the activity,
    the scanner's right to scan and the holder together (the hot path: see
    ``scripts/bench/scans.py``)."""
    received_at = now()
    reading = scans.read(item["code"], CodeKind.PERSONAL, actor_id,
                         scans.scanned_at(item, received_at), activity_id)
    door = _scannable(actor_id, activity_id, reading.holder_id)
    _refuse_late_uploads([item], received_at)
    return _recorded(actor_id, lambda replayed: scans.record(
        actor_id, door, item, received_at, replayed=replayed, reading=reading,
        holder=door if reading.holder_id is not None else None))


def scan_batch(actor_id: int, activity_id: int, items: list[dict[str, Any]]
               ) -> list[dict[str, Any]]:
    """Offline uploads: judged in ``scanned_at`` order, answered in the order sent."""
    activity = _scannable(actor_id, activity_id)
    received_at = now()
    _refuse_late_uploads(items, received_at)
    order = sorted(range(len(items)), key=lambda i: _merge_order(items[i], received_at))

    def record_all(replayed: bool) -> list[dict[str, Any]]:
        by_scan_id: dict[str, dict[str, Any]] = {}  # a scan repeated in the batch: a no-op
        for index in order:
            scan_id = items[index]["scan_id"]
            if scan_id not in by_scan_id:
                by_scan_id[scan_id] = scans.record(actor_id, activity, items[index],
                                                   received_at, replayed=replayed)
        return [by_scan_id[item["scan_id"]] for item in items]
    return _recorded(actor_id, record_all)


def self_checkin(actor: User, item: dict[str, Any]) -> dict[str, Any]:
    """A resident scans the activity's poster code with their own phone."""
    activity_id = codes.poster_activity_id(item["code"])
    activity = db.session.get(Activity, activity_id) if activity_id is not None else None
    if activity is None or not _visible(actor, activity.id):
        return scans.refusal(ScanResult.INVALID_CODE)
    if not activity.self_checkin_allowed:
        raise SELF_CHECKIN_NOT_ALLOWED()
    scans.require_open_for_scans(activity)
    _limit(actor.id)
    received_at = now()
    return _recorded(actor.id, lambda replayed: scans.record(
        actor.id, activity, item, received_at, kind=CodeKind.POSTER, replayed=replayed))


def scanner_kit(actor: User, activity_id: int) -> dict[str, Any]:
    """What a leader's phone needs to keep scanning with no network."""
    activity = get_managed_activity(actor, activity_id)
    user_ids = list(db.session.scalars(
        select(Signup.user_id).where(
            Signup.activity_id == activity.id,
            Signup.status.in_(statements.HELD))
        .order_by(Signup.user_id)))
    names = display_names(actor, activity.community_id, user_ids)
    late = timedelta(minutes=current_app.config["CHECKIN_LATE_MIN"])
    return {
        "activity_id": activity.id,
        "algorithm": "Ed25519",
        "public_key": codes.public_key_b64(),
        "code_format": codes.FORMAT_DESCRIPTION,
        "code_step_s": codes.STEP_S,
        "window_opens_at": activity.starts_at - scans.early_allowance(),
        "window_closes_at": activity.ends_at + late,
        "walk_ins_allowed": activity.walk_ins_allowed,
        "residents": [{"id": uid, "display_name": names[uid]} for uid in user_ids],
        "generated_at": now(),
    }


def _recorded(actor_id: int, record: Callable[[bool], T]) -> T:
    """Run ``record`` as the request's one unit of work (with what the door query already
    read and locked in it); if a concurrent request got there first (a scan id already
    recorded: a replay, or a twin that committed first; or the same resident's first entry),
    it rolls back and starts again, looking for earlier answers. The scan id is the
    endpoint's idempotency key: an ``Idempotency-Key`` sent along is only noted, in this
    same transaction."""
    for attempt in range(3):
        try:
            with unit_of_work():
                idempotency.claim(actor_id)
                return record(attempt > 0)
        except scans.RaceLost:
            continue
    raise SCAN_IN_PROGRESS()


def _scannable(actor_id: int, activity_id: int, holder_id: int | None = None
               ) -> statements.Door:
    """The activity if the actor may scan at its door, with the code holder if one is named
    (their attendance locked: the scan is recorded in this transaction)."""
    row = statements.door(activity_id, actor_id, holder_id,
                          lock_attendance=holder_id is not None)
    if row is None or not row.may_scan:
        get_managed_activity(current_user(), activity_id)  # the right 401, 403 or 404
        raise FORBIDDEN.saying("仅本队队长或社区工作人员可以扫码")
    require_current_token(row.scanner_token_version)
    scans.require_open_for_scans(row)
    _limit(actor_id)
    return row


def _visible(actor: User, activity_id: int) -> bool:
    try:
        get_visible_activity(actor, activity_id)
    except NotFound:
        return False
    return True


def _limit(actor_id: int) -> None:
    per_minute = current_app.config["SCAN_RATE_PER_MIN"]
    # Per address too, generously: a community hall's leaders may share one Wi-Fi.
    ratelimit.enforce_each("scan", {f"user:{actor_id}": per_minute,
                                    f"ip:{ratelimit.client_ip()}": per_minute * 4})


def _refuse_late_uploads(items: list[dict[str, Any]], received_at: datetime) -> None:
    """Offline scans older than the limit are refused; none may claim to be from the future."""
    max_hours = current_app.config["OFFLINE_UPLOAD_MAX_H"]
    oldest = received_at - timedelta(hours=max_hours)
    latest = received_at + timedelta(seconds=codes.STEP_S)
    stamped = [(i, item["scanned_at"]) for i, item in enumerate(items)
               if item.get("scanned_at") is not None]
    future = {str(i): ["扫码时间不能晚于现在"] for i, at in stamped if at > latest}
    if future:
        raise ValidationFailed({"scanned_at": [future]} if len(items) > 1 else
                               {"scanned_at": future["0"]})
    late = [i for i, at in stamped if at < oldest]
    if late:
        raise UPLOAD_TOO_LATE(max_hours=max_hours, details={"indexes": late})


def _merge_order(item: dict[str, Any], received_at: datetime) -> tuple:
    # Entries before exits at the same instant, then the device's id: a fixed total order.
    return (item.get("scanned_at") or received_at, item["direction"] != Direction.IN,
            item["scan_id"])
