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

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from backend.activities.models import Activity, ActivityStatus, Signup, SignupStatus
from backend.checkin import codes
from backend.checkin.hours import served_minutes
from backend.checkin.models import (
    ACCEPTED_RESULTS,
    Attendance,
    AttendanceStatus,
    Direction,
    Scan,
    ScanResult,
)
from backend.common.clock import now
from backend.communities import access
from backend.communities.models import Resident
from backend.errors import ApiError
from backend.extensions import db


def early_allowance() -> timedelta:
    return timedelta(minutes=current_app.config["CHECKIN_EARLY_MIN"])


def in_window(activity: Activity, at: datetime) -> bool:
    late = timedelta(minutes=current_app.config["CHECKIN_LATE_MIN"])
    return activity.starts_at - early_allowance() <= at <= activity.ends_at + late


def require_open_for_scans(activity: Activity) -> None:
    if activity.status != ActivityStatus.PUBLISHED:
        raise ApiError("activity_not_published", "活动未发布或已取消，不能签到")


def record(scanner_id: int, activity: Activity, item: dict[str, Any], received_at: datetime,
           kind: codes.CodeKind = codes.CodeKind.PERSONAL) -> dict[str, Any]:
    """Judge and keep one scan (flush only); the same scan id again → the first answer."""
    scanned_at = item.get("scanned_at") or received_at
    scan = _claim(activity.id, item["scan_id"], dict(
        direction=item["direction"], scanner_id=scanner_id, device=item.get("device"),
        scanned_at=scanned_at, received_at=received_at, offline="scanned_at" in item,
        self_service=kind == codes.CodeKind.POSTER))
    if scan.response is not None:
        return scan.response
    result, scan.user_id = _read_code(activity, item["code"], kind, scanner_id, scanned_at)
    attendance = None
    if result is None:
        result, attendance = _pass_door(activity, scan)
    scan.result = result
    scan.response = _answer(result, attendance, scan.user_id)
    db.session.flush()
    return scan.response


def _claim(activity_id: int, scan_id: str, values: dict[str, Any]) -> Scan:
    insert = (postgresql.insert if db.session.get_bind().dialect.name == "postgresql"
              else sqlite.insert)
    db.session.execute(insert(Scan).values(activity_id=activity_id, scan_id=scan_id, **values)
                       .on_conflict_do_nothing(index_elements=["activity_id", "scan_id"]))
    return db.session.execute(
        select(Scan).where(Scan.activity_id == activity_id, Scan.scan_id == scan_id)
        .execution_options(populate_existing=True)).scalar_one()


def _read_code(activity: Activity, text: str, kind: codes.CodeKind, scanner_id: int,
               at: datetime) -> tuple[ScanResult | None, int | None]:
    """(a refusal or None, whose code it is) — the checks that need no lock."""
    try:
        code = codes.verify(text, kind, at)
    except codes.ExpiredCode as expired:
        return ScanResult.EXPIRED_CODE, _holder(expired.code, scanner_id)
    except codes.InvalidCode:
        return ScanResult.INVALID_CODE, None
    if kind == codes.CodeKind.POSTER and code.subject_id != activity.id:
        return ScanResult.INVALID_CODE, None
    user_id = _holder(code, scanner_id)
    if not in_window(activity, at):
        return ScanResult.OUTSIDE_WINDOW, user_id
    if not _may_attend(activity, user_id):
        return ScanResult.NOT_SIGNED_UP, user_id
    return None, user_id


def _holder(code: codes.CheckinCode, scanner_id: int) -> int:
    # A personal code names its holder; a poster code is scanned by the resident themself.
    return code.subject_id if code.kind == codes.CodeKind.PERSONAL else scanner_id


def is_signed_up(activity_id: int, user_id: int) -> bool:
    return db.session.scalar(select(Signup.id).where(
        Signup.activity_id == activity_id, Signup.user_id == user_id,
        Signup.status.in_((SignupStatus.CONFIRMED, SignupStatus.NO_SHOW)))) is not None


def _may_attend(activity: Activity, user_id: int) -> bool:
    if is_signed_up(activity.id, user_id):
        return True
    return activity.walk_ins_allowed and db.session.scalar(select(Resident.id).where(
        Resident.user_id == user_id, Resident.community_id == activity.community_id)) is not None


def _pass_door(activity: Activity, scan: Scan) -> tuple[ScanResult, Attendance]:
    attendance = _locked_attendance(activity, scan.user_id)
    result = door_result(scan.direction, scan.scanned_at, attendance)
    scan.result = result
    db.session.flush()  # the derivation below reads this scan back
    derive_attendance(activity, attendance)
    return result, attendance


def door_result(direction: Direction, at: datetime, attendance: Attendance) -> ScanResult:
    """What the door says, given what earlier accepted scans established."""
    checked_in = attendance.checked_in_at
    if direction == Direction.IN:
        return ScanResult.ALREADY_IN if checked_in and checked_in <= at else ScanResult.OK
    if checked_in is None or at < checked_in:
        return ScanResult.NOT_CHECKED_IN
    if attendance.checked_out_at and attendance.checked_out_at >= at:
        return ScanResult.ALREADY_OUT
    return ScanResult.OK


def _locked_attendance(activity: Activity, user_id: int) -> Attendance:
    insert = (postgresql.insert if db.session.get_bind().dialect.name == "postgresql"
              else sqlite.insert)
    walk_in = not is_signed_up(activity.id, user_id)
    db.session.execute(insert(Attendance).values(
        activity_id=activity.id, community_id=activity.community_id, user_id=user_id,
        walk_in=walk_in, status=AttendanceStatus.OPEN, served_minutes=0, minutes=0,
        created_at=now()).on_conflict_do_nothing(index_elements=["activity_id", "user_id"]))
    return db.session.execute(
        select(Attendance).where(Attendance.activity_id == activity.id,
                                 Attendance.user_id == user_id)
        .with_for_update().execution_options(populate_existing=True)).scalar_one()


def derive_attendance(activity: Activity, attendance: Attendance) -> None:
    """Earliest accepted entry, latest accepted exit after it; minutes from those."""
    first_in, last_out = db.session.execute(
        select(func.min(case((Scan.direction == Direction.IN, Scan.scanned_at))),
               func.max(case((Scan.direction == Direction.OUT, Scan.scanned_at))))
        .where(Scan.activity_id == activity.id, Scan.user_id == attendance.user_id,
               Scan.result.in_(ACCEPTED_RESULTS))).one()
    first_in, last_out = _aware(first_in), _aware(last_out)
    if attendance.is_locked:
        return
    attendance.checked_in_at = first_in
    attendance.checked_out_at = last_out if first_in and last_out and last_out >= first_in \
        else None
    attendance.set_served(served_minutes(attendance.checked_in_at, attendance.checked_out_at,
                                         activity.starts_at, activity.ends_at,
                                         early_allowance()))
    if first_in is not None:
        _mark_present(activity, attendance)


def _mark_present(activity: Activity, attendance: Attendance) -> None:
    if attendance.status == AttendanceStatus.NO_SHOW:
        attendance.status = AttendanceStatus.OPEN
    # The sign-up learns of the entry, which also undoes a no-show marked before a late
    # offline upload arrived.
    db.session.execute(
        update(Signup).where(Signup.activity_id == activity.id,
                             Signup.user_id == attendance.user_id,
                             Signup.status.in_((SignupStatus.CONFIRMED, SignupStatus.NO_SHOW)))
        .values(status=SignupStatus.CONFIRMED, checked_in_at=attendance.checked_in_at)
        .execution_options(synchronize_session=False))


def _aware(value: datetime | None) -> datetime | None:
    # Aggregates bypass the column type on SQLite and come back as naive UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _answer(result: ScanResult, attendance: Attendance | None, user_id: int | None
            ) -> dict[str, Any]:
    from backend.checkin.schemas import AttendanceSchema

    resident = None
    if user_id is not None and result not in (ScanResult.INVALID_CODE,):
        resident = {"id": user_id, "display_name": _masked_name(user_id)}
    return {
        "result": result.value,
        "attendance": AttendanceSchema().dump(attendance) if attendance is not None else None,
        "resident": resident,
    }


def _masked_name(user_id: int) -> str:
    name = db.session.scalar(select(Resident.real_name).where(Resident.user_id == user_id))
    return access.mask_name(name) if name else f"用户{user_id}"
