"""Recording scans and deriving attendance from them (SPEC §5).

The order of judgement follows pretix's lesson that validity comes before duplicate
detection: the code (signature, kind, activity), its age at ``scanned_at``, the activity's
window, the resident's right to attend, and only then the door state (already in/out).

Concurrency: the scan row is claimed first under its unique ``(activity, scan_id)`` so a
replayed or concurrently duplicated upload waits for, then returns, the first answer; every
accepted scan of one resident then takes that resident's attendance row lock, so two
leaders scanning the same code at once record one check-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from backend.activities.models import Activity, ActivityStatus, Signup, SignupStatus
from backend.checkin import codes, statements
from backend.checkin.hours import served_minutes
from backend.checkin.models import (
    AttendanceStatus,
    Direction,
    Scan,
    ScanResult,
)
from backend.checkin.schemas import AttendanceSchema
from backend.common.clock import now
from backend.communities import access
from backend.errors import ApiError
from backend.extensions import db

# Built once: a schema instance only reads its fields when dumping.
_ATTENDANCE = AttendanceSchema()


def early_allowance() -> timedelta:
    return timedelta(minutes=current_app.config["CHECKIN_EARLY_MIN"])


def in_window(activity: Activity, at: datetime) -> bool:
    late = timedelta(minutes=current_app.config["CHECKIN_LATE_MIN"])
    return activity.starts_at - early_allowance() <= at <= activity.ends_at + late


def require_open_for_scans(activity: Activity) -> None:
    if activity.status != ActivityStatus.PUBLISHED:
        raise ApiError("activity_not_published", "活动未发布或已取消，不能签到")


class DuplicateScan(Exception):
    """This scan id was recorded by a concurrent request: roll back, answer as it did."""


def record(scanner_id: int, activity: Activity, item: dict[str, Any], received_at: datetime,
           kind: codes.CodeKind = codes.CodeKind.PERSONAL, replayed: bool = False
           ) -> dict[str, Any]:
    """Judge and keep one scan (flush only); the same scan id again → the first answer.

    Fresh scans are the norm, so the first pass does not look for an earlier answer: it
    raises DuplicateScan when the scan id is already taken (by an earlier upload or a
    concurrent twin), and the caller rolls back and runs again with ``replayed=True``.
    """
    if replayed:
        first = first_answer(activity.id, item["scan_id"])
        if first is not None:
            return first
    scanned_at = item.get("scanned_at") or received_at
    result, user_id, person = _read_code(activity, item["code"], kind, scanner_id, scanned_at)
    attendance = None
    if result is None:
        attendance = _locked_attendance(activity, user_id, walk_in=not person.signed_up)
        result = door_result(item["direction"], scanned_at, attendance)
        _update_attendance(activity, attendance, item["direction"], scanned_at)
    answer = _answer(result, attendance, user_id, person.name if person else None)
    inserted = db.session.execute(statements.scan_insert(), dict(
        activity_id=activity.id, scan_id=item["scan_id"], direction=item["direction"],
        scanner_id=scanner_id, device=item.get("device"), scanned_at=scanned_at,
        received_at=received_at, offline="scanned_at" in item,
        self_service=kind == codes.CodeKind.POSTER, user_id=user_id, result=result,
        response=answer)).scalar()
    if inserted is None:
        raise DuplicateScan()
    return answer


def first_answer(activity_id: int, scan_id: str) -> dict[str, Any] | None:
    return db.session.scalar(select(Scan.response).where(
        Scan.activity_id == activity_id, Scan.scan_id == scan_id))


@dataclass(frozen=True)
class Person:
    """What the door needs to know of a code's holder, in one query."""

    name: str | None
    community_id: int | None
    signed_up: bool


def _person(activity: Activity, user_id: int) -> Person:
    row = db.session.execute(statements.person(),
                             {"activity_id": activity.id, "user_id": user_id}).first()
    if row is None:
        return Person(None, None, is_signed_up(activity.id, user_id))
    return Person(row[0], row[1], row[2] is not None)


def _read_code(activity: Activity, text: str, kind: codes.CodeKind, scanner_id: int,
               at: datetime) -> tuple[ScanResult | None, int | None, Person | None]:
    """(a refusal or None, whose code it is, who they are) — the checks that need no lock."""
    try:
        code = codes.verify(text, kind, at)
    except codes.ExpiredCode as expired:
        user_id = _holder(expired.code, scanner_id)
        return ScanResult.EXPIRED_CODE, user_id, _person(activity, user_id)
    except codes.InvalidCode:
        return ScanResult.INVALID_CODE, None, None
    if kind == codes.CodeKind.POSTER and code.subject_id != activity.id:
        return ScanResult.INVALID_CODE, None, None
    user_id = _holder(code, scanner_id)
    person = _person(activity, user_id)
    if not in_window(activity, at):
        return ScanResult.OUTSIDE_WINDOW, user_id, person
    may_walk_in = activity.walk_ins_allowed and person.community_id == activity.community_id
    if not (person.signed_up or may_walk_in):
        return ScanResult.NOT_SIGNED_UP, user_id, person
    return None, user_id, person


def _holder(code: codes.CheckinCode, scanner_id: int) -> int:
    # A personal code names its holder; a poster code is scanned by the resident themself.
    return code.subject_id if code.kind == codes.CodeKind.PERSONAL else scanner_id


def is_signed_up(activity_id: int, user_id: int) -> bool:
    return db.session.scalar(select(Signup.id).where(
        Signup.activity_id == activity_id, Signup.user_id == user_id,
        Signup.status.in_((SignupStatus.CONFIRMED, SignupStatus.NO_SHOW)))) is not None


def door_result(direction: Direction, at: datetime, attendance: dict[str, Any]) -> ScanResult:
    """What the door says, given what earlier accepted scans established."""
    checked_in, checked_out = attendance["checked_in_at"], attendance["checked_out_at"]
    if direction == Direction.IN:
        return ScanResult.ALREADY_IN if checked_in and checked_in <= at else ScanResult.OK
    if checked_in is None or at < checked_in:
        return ScanResult.NOT_CHECKED_IN
    if checked_out and checked_out >= at:
        return ScanResult.ALREADY_OUT
    return ScanResult.OK


_LOCKED_STATUSES = (AttendanceStatus.APPROVED, AttendanceStatus.REJECTED)


def _locked_attendance(activity: Activity, user_id: int, walk_in: bool) -> dict[str, Any]:
    """The resident's attendance row, created if need be and row-locked, in one statement
    (an upsert whose no-op update takes the lock and returns the row)."""
    return dict(db.session.execute(statements.attendance_upsert(), dict(
        activity_id=activity.id, community_id=activity.community_id, user_id=user_id,
        walk_in=walk_in, status=AttendanceStatus.OPEN, served_minutes=0, minutes=0,
        created_at=now())).mappings().one())


def _update_attendance(activity: Activity, row: dict[str, Any], direction: Direction,
                       at: datetime) -> None:
    """Fold one accepted scan in: the earliest entry and the latest exit win.

    Min and max do not care about order, so the same scans give the same attendance
    however they arrive (live, offline, shuffled, duplicated). Approved or rejected hours
    stay as they were decided."""
    if row["status"] in _LOCKED_STATUSES:
        return
    before = dict(row)
    if direction == Direction.IN:
        row["checked_in_at"] = min(filter(None, (row["checked_in_at"], at)))
    else:
        row["last_out_at"] = max(filter(None, (row["last_out_at"], at)))
    first_in, last_out = row["checked_in_at"], row["last_out_at"]
    row["checked_out_at"] = last_out if first_in and last_out and last_out >= first_in \
        else None
    row["served_minutes"] = served_minutes(first_in, row["checked_out_at"], activity.starts_at,
                                           activity.ends_at, early_allowance())
    row["minutes"] = (row["corrected_minutes"] if row["corrected_minutes"] is not None
                      else row["served_minutes"])
    if first_in is not None and row["status"] == AttendanceStatus.NO_SHOW:
        row["status"] = AttendanceStatus.OPEN
    if any(row[name] != before[name] for name in statements.FOLDED):
        db.session.execute(statements.attendance_fold(), {
            "attendance_id": row["id"], **{f"new_{name}": row[name] for name in statements.FOLDED}})
    if row["checked_in_at"] != before["checked_in_at"]:
        # The sign-up learns of the entry, which also undoes a no-show marked before a late
        # offline upload arrived.
        db.session.execute(statements.signup_present(), {
            "of_activity": activity.id, "of_user": row["user_id"],
            "entered_at": row["checked_in_at"]})


def _answer(result: ScanResult, attendance: dict[str, Any] | None, user_id: int | None,
            name: str | None) -> dict[str, Any]:
    resident = None
    if user_id is not None:
        resident = {"id": user_id,
                    "display_name": access.mask_name(name) if name else f"用户{user_id}"}
    return {
        "result": result.value,
        "attendance": _ATTENDANCE.dump(attendance) if attendance is not None else None,
        "resident": resident,
    }
