"""Recording scans and deriving attendance from them (SPEC §5).

The order of judgement follows pretix's lesson that validity comes before duplicate
detection: the code (signature, kind, activity), its age at ``scanned_at``, the activity's
window, the resident's right to attend, and only then the door state (already in/out).

Concurrency: every scan of one resident takes that resident's attendance row lock (the
door query locks the row; a first entry creates it, and the loser of two concurrent first
entries judges again), so two leaders scanning the same code at once record one check-in.
The scan row is unique by ``(activity, scan_id)``: a replayed or concurrently duplicated
upload rolls back and returns the first answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from backend.activities.models import Activity, ActivityStatus
from backend.checkin import codes, statements
from backend.checkin.models import FOLDED, Attendance, Direction, Scan, ScanResult, fold
from backend.checkin.schemas import ScanAnswerSchema
from backend.common.clock import now
from backend.communities import access
from backend.extensions import db
from backend.refusals import ACTIVITY_NOT_PUBLISHED, NOT_FOUND

# Built once: a schema instance only reads its fields when dumping. Each answer is dumped
# once, when it is made: it is stored as it was sent, and a replay sends it again.
_ANSWER = ScanAnswerSchema()


def early_allowance() -> timedelta:
    return timedelta(minutes=current_app.config["CHECKIN_EARLY_MIN"])


def in_window(activity: DoorActivity, at: datetime) -> bool:
    late = timedelta(minutes=current_app.config["CHECKIN_LATE_MIN"])
    return activity.starts_at - early_allowance() <= at <= activity.ends_at + late


def require_open_for_scans(activity: DoorActivity) -> None:
    if activity.status != ActivityStatus.PUBLISHED:
        raise ACTIVITY_NOT_PUBLISHED.saying("活动未发布或已取消，不能签到")


class RaceLost(Exception):
    """A concurrent request got there first (it recorded this scan id, or created this
    resident's attendance): roll back and run again, which finds what it wrote."""


# What a scan needs of its activity: the door query's row, or (self check-in) the model.
DoorActivity = statements.Door | Activity


@dataclass(frozen=True)
class Reading:
    """What a code says before the database is asked: a refusal or None, and whose it is."""

    refusal: ScanResult | None
    holder_id: int | None


def scanned_at(item: dict[str, Any], received_at: datetime) -> datetime:
    return item.get("scanned_at") or received_at


def read(text: str, kind: codes.CodeKind, scanner_id: int, at: datetime,
         activity_id: int) -> Reading:
    """Verify a code as of ``at`` (signature, kind, age; a poster code names its activity)."""
    try:
        code = codes.verify(text, kind, at)
    except codes.ExpiredCode as expired:
        return Reading(ScanResult.EXPIRED_CODE, _holder(expired.code, scanner_id))
    except codes.InvalidCode:
        return Reading(ScanResult.INVALID_CODE, None)
    if kind == codes.CodeKind.POSTER and code.subject_id != activity_id:
        return Reading(ScanResult.INVALID_CODE, None)
    return Reading(None, _holder(code, scanner_id))


def record(scanner_id: int, activity: DoorActivity, item: dict[str, Any],
           received_at: datetime, kind: codes.CodeKind = codes.CodeKind.PERSONAL,
           replayed: bool = False, reading: Reading | None = None,
           holder: statements.Door | None = None) -> dict[str, Any]:
    """Judge and keep one scan (flush only); the same scan id again → the first answer.

    ``reading`` and ``holder`` may come from the caller, who read the code and looked up its
    holder (locking their attendance) along with the activity in this transaction, in one
    door query; otherwise they are worked out here.

    Fresh scans are the norm, so the first pass does not look for an earlier answer: it
    raises RaceLost when the scan id is already taken (by an earlier upload or a concurrent
    twin), or when a concurrent first entry created the resident's attendance, and the
    caller rolls back and runs again with ``replayed=True``.
    """
    if replayed:
        first = first_answer(activity.id, item["scan_id"])
        if first is not None:
            return first
        holder = None  # its lock went with the rollback
    at = scanned_at(item, received_at)
    if reading is None:
        reading = read(item["code"], kind, scanner_id, at, activity.id)
    if holder is None and reading.holder_id is not None:
        holder = _holder_at(activity, scanner_id, reading.holder_id)
    result = reading.refusal or _right_to_attend(activity, holder, at)
    attendance = changes = present = None
    if result is None:
        attendance = dict(holder.attendance or Attendance.first_values(
            activity_id=activity.id, community_id=activity.community_id,
            user_id=reading.holder_id, walk_in=not holder.signed_up))
        if "scanned_at" not in item:
            # A live scan happens when it is judged, under the lock: two leaders' scans of
            # one code then fall in the order they commit (one ``ok``, then ``already_in``).
            at = max(at, now())
        result = door_result(item["direction"], at, attendance)
        attendance, changes, present = _folded(activity, attendance, item["direction"], at)
        if attendance["id"] is None:
            # A first scan: the row is inserted already folded (one row version, not two).
            attendance, changes = statements.create_attendance(attendance), None
            if attendance is None:
                raise RaceLost()
    conflict = _conflict(holder.conflict_activity_id) \
        if result == ScanResult.TIME_CONFLICT else None
    answer = _answer(result, attendance, reading.holder_id, holder.real_name if holder else None,
                     conflict)
    inserted = statements.insert_scan(dict(
        activity_id=activity.id, scan_id=item["scan_id"], direction=item["direction"],
        scanner_id=scanner_id, device=item.get("device"), scanned_at=at,
        received_at=received_at, offline="scanned_at" in item,
        self_service=kind == codes.CodeKind.POSTER, user_id=reading.holder_id, result=result,
        response=answer), changes, present)
    if inserted is None:
        raise RaceLost()
    return answer


def first_answer(activity_id: int, scan_id: str) -> dict[str, Any] | None:
    return db.session.scalar(select(Scan.response).where(
        Scan.activity_id == activity_id, Scan.scan_id == scan_id))


def _holder_at(activity: DoorActivity, scanner_id: int, user_id: int) -> statements.Door:
    # The same one query the live door uses, the holder's attendance locked.
    door = statements.door(activity.id, scanner_id, user_id, lock_attendance=True)
    if door is None:  # an activity is never deleted: only a bug gets here
        raise NOT_FOUND.saying("活动不存在")
    return door


def _right_to_attend(activity: DoorActivity, holder: statements.Door, at: datetime
                     ) -> ScanResult | None:
    if not in_window(activity, at):
        return ScanResult.OUTSIDE_WINDOW
    may_walk_in = (activity.walk_ins_allowed
                   and holder.holder_community_id == activity.community_id)
    if not (holder.signed_up or may_walk_in):
        return ScanResult.NOT_SIGNED_UP
    entered = holder.attendance is not None and holder.attendance["checked_in_at"] is not None
    if holder.conflict_activity_id is not None and not entered:
        return ScanResult.TIME_CONFLICT
    return None


def _holder(code: codes.CheckinCode, scanner_id: int) -> int:
    # A personal code names its holder; a poster code is scanned by the resident themself.
    return code.subject_id if code.kind == codes.CodeKind.PERSONAL else scanner_id


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


def _folded(activity: DoorActivity, row: dict[str, Any], direction: Direction,
            at: datetime) -> tuple[dict[str, Any], dict[str, Any] | None,
                                   dict[str, Any] | None]:
    """``row`` with one accepted scan folded in (``models.fold``, as ``Attendance.fold``),
    and what to write: the attendance's new values and the sign-up's entry (or None)."""
    folded = {**row, **fold(row, direction, at, activity.starts_at, activity.ends_at,
                            early_allowance())}
    changes = present = None
    if any(folded[name] != row[name] for name in FOLDED):
        changes = {"attendance_id": row["id"],
                   **{f"new_{name}": folded[name] for name in FOLDED}}
    if folded["checked_in_at"] != row["checked_in_at"]:
        # The sign-up learns of the entry, which also undoes a no-show marked before a late
        # offline upload arrived.
        present = {"of_activity": activity.id, "of_user": row["user_id"],
                   "entered_at": folded["checked_in_at"]}
    return folded, changes, present


def _conflict(activity_id: int) -> dict[str, Any]:
    """The other activity, named for the leader at the door (a rare path: its own query)."""
    title = db.session.scalar(select(Activity.title).where(Activity.id == activity_id))
    return {"activity_id": activity_id, "title": title}


def refusal(result: ScanResult) -> dict[str, Any]:
    """The answer to a code nobody can be found for (nothing recorded)."""
    return _answer(result, None, None, None)


def _answer(result: ScanResult, attendance: dict[str, Any] | None, user_id: int | None,
            name: str | None, conflict: dict[str, Any] | None = None) -> dict[str, Any]:
    resident = None
    if user_id is not None:
        resident = {"id": user_id,
                    "display_name": access.mask_name(name) if name else f"用户{user_id}"}
    answer = {"result": result, "attendance": attendance, "resident": resident}
    if conflict is not None:
        answer["conflict"] = conflict
    return _ANSWER.dump(answer)
