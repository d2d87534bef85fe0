"""The scan hot path's SQL, built once with bind parameters.

A live scan is two statements and a commit (three for a resident's first entry): the door
query, which also locks the holder's attendance row, and the scan's insert, with the
attendance fold and the sign-up's entry riding along. Building statements (an upsert's
``excluded`` alias alone makes a proxy of every column) cost more Python than running them;
so they are built the first time each dialect asks and only executed after that.

They run on the request's session connection, in its one transaction: whatever else the use
case writes (an audit row, an outbox notice) commits or rolls back with the scan, on
PostgreSQL and SQLite alike (``backend/common/transactions.py``). On PostgreSQL they are
also compiled once and run on that connection's DBAPI cursor: SQLAlchemy's per-execution
work for a statement (cache key, parameter and result processing, result metadata) cost as
much CPU as the driver's (see ``scripts/bench/scans.py``), so the few values they carry are
converted here, by the same rules as ``UTCDateTime`` and the string enums.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Json
from sqlalchemy import (
    CursorResult,
    Executable,
    Table,
    and_,
    bindparam,
    or_,
    outerjoin,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from backend.activities.models import Activity, ActivityStatus, Signup, SignupStatus
from backend.auth.models import User
from backend.checkin.models import FOLDED, Attendance, AttendanceStatus, Scan
from backend.common.clock import UTCDateTime
from backend.communities.models import Resident, StaffMember, TeamMember, TeamRole
from backend.extensions import db

ATTENDANCES = Attendance.__table__
# The sign-ups that hold a place at the door (a no-show may still turn up late).
HELD = (SignupStatus.CONFIRMED, SignupStatus.NO_SHOW)
# What the door and the answer read of an attendance row.
_ATTENDANCE_READ = ("id", "activity_id", "user_id", "walk_in", "checked_in_at",
                    "checked_out_at", "last_out_at", "served_minutes", "corrected_minutes",
                    "minutes", "status", "points", "confirmed_by", "confirmed_at",
                    "points_per_hour")
# An attendance that holds the resident's time: checked in, and not ruled out.
_HOLDS_TIME = (AttendanceStatus.OPEN, AttendanceStatus.CONFIRMED, AttendanceStatus.APPROVED)


def _held(status: Any) -> Any:
    # Equalities, not IN: an IN list is an "expanding" parameter, re-rendered per execution.
    return or_(*(status == held for held in HELD))


def _execute(statement: Executable, params: dict[str, Any]) -> CursorResult:
    """Run a prebuilt statement on the session's connection, in its transaction (the ORM
    session's own execute adds a layer these plain rows do not need)."""
    return db.session.connection().execute(statement, params)


def _dialect() -> str:
    return db.engine.dialect.name


@dataclass(frozen=True)
class Door:
    """What a scan needs of its activity, the scanner and the code's holder (no ORM object:
    this survives a rollback and costs a fraction of an entity to load)."""

    id: int
    community_id: int
    status: ActivityStatus
    starts_at: datetime
    ends_at: datetime
    walk_ins_allowed: bool
    may_scan: bool  # the scanner leads the activity's team or is staff of its community
    scanner_token_version: int | None  # to check the bearer token is not revoked
    real_name: str | None  # the holder's, when they are a resident
    holder_community_id: int | None
    signup_id: int | None  # the holder's confirmed (or no-show) sign-up
    # Another activity, overlapping this one, that the holder is checked in to.
    conflict_activity_id: int | None
    # The holder's attendance row, locked until the transaction ends (when asked for).
    attendance: Mapping[str, Any] | None = None

    @property
    def signed_up(self) -> bool:
        return self.signup_id is not None


def door(activity_id: int, scanner_id: int, holder_id: int | None,
         lock_attendance: bool = False) -> Door | None:
    """The activity, the scanner's right to scan there and the holder, in one query; with
    ``lock_attendance``, the holder's attendance row too, locked (SQLite's transactions
    hold the whole database already)."""
    name = "door_locking" if lock_attendance else "door"
    rows = _rows(name, lambda: _door(lock_attendance), {
        "activity_id": activity_id, "scanner_id": scanner_id, "holder_id": holder_id})
    if not rows:
        return None
    row = rows[0]
    attendance = None
    if lock_attendance:
        attendance = {column: row.pop(f"attendance_{column}") for column in _ATTENDANCE_READ}
        attendance = _attendance_row(attendance) if attendance["id"] is not None else None
    return Door(**{**row, "status": ActivityStatus(row["status"]), "attendance": attendance})


def _door(lock_attendance: bool) -> Executable:
    scanner = bindparam("scanner_id")
    leader = select(TeamMember.id).where(
        TeamMember.team_id == Activity.team_id, TeamMember.user_id == scanner,
        TeamMember.role == TeamRole.LEADER).exists()
    staff = select(StaffMember.id).where(
        StaffMember.community_id == Activity.community_id,
        StaffMember.user_id == scanner).exists()
    signup = select(Signup.id).where(
        Signup.activity_id == Activity.id, Signup.user_id == bindparam("holder_id"),
        _held(Signup.status)).scalar_subquery()
    other = Activity.__table__.alias("other")
    conflict = select(ATTENDANCES.c.activity_id).join(
        other, other.c.id == ATTENDANCES.c.activity_id).where(
        ATTENDANCES.c.user_id == bindparam("holder_id"),
        ATTENDANCES.c.activity_id != Activity.id, ATTENDANCES.c.checked_in_at.is_not(None),
        or_(*(ATTENDANCES.c.status == held for held in _HOLDS_TIME)),
        other.c.starts_at < Activity.ends_at, Activity.starts_at < other.c.ends_at,
    ).limit(1).scalar_subquery()
    token_version = select(User.token_version).where(User.id == scanner).scalar_subquery()
    columns = [Activity.id, Activity.community_id, Activity.status,
               Activity.starts_at, Activity.ends_at, Activity.walk_ins_allowed,
               or_(leader, staff).label("may_scan"),
               token_version.label("scanner_token_version"), Resident.real_name,
               Resident.community_id.label("holder_community_id"), signup.label("signup_id"),
               conflict.label("conflict_activity_id")]
    joined = outerjoin(Activity, Resident, Resident.user_id == bindparam("holder_id"))
    if lock_attendance:
        of_holder = and_(ATTENDANCES.c.activity_id == Activity.id,
                         ATTENDANCES.c.user_id == bindparam("holder_id"))
        if _dialect() == "postgresql":
            # FOR UPDATE may not reach the nullable side of an outer join, but a lateral
            # subquery can lock its own row.
            attendance = select(*(ATTENDANCES.c[name] for name in _ATTENDANCE_READ)).where(
                of_holder).with_for_update().lateral("attendance")
            joined = joined.outerjoin(attendance, true())
        else:
            attendance = ATTENDANCES
            joined = joined.outerjoin(attendance, of_holder)
        columns += [attendance.c[name].label(f"attendance_{name}") for name in _ATTENDANCE_READ]
    return select(*columns).select_from(joined).where(Activity.id == bindparam("activity_id"))


def create_attendance(values: Mapping[str, Any]) -> dict[str, Any] | None:
    """Insert a first attendance row as given (already folded with its first scan) and
    return it; None if a concurrent transaction created it first (it waited for that one
    to commit: the caller rolls back and judges again)."""
    rows = _rows("attendance_insert", _attendance_insert,
                 {f"new_{name}": values[name] for name in _ATTENDANCE_NEW})
    return _attendance_row(rows[0]) if rows else None


# The columns a new attendance is given (each bound as ``new_<column>``, see below).
_ATTENDANCE_NEW = ("activity_id", "community_id", "user_id", "walk_in", "checked_in_at",
                   "checked_out_at", "last_out_at", "served_minutes", "minutes", "status",
                   "created_at")


def _attendance_insert() -> Executable:
    return _insert(ATTENDANCES).values(
        {name: bindparam(f"new_{name}") for name in _ATTENDANCE_NEW}).on_conflict_do_nothing(
        index_elements=["activity_id", "user_id"]).returning(
        *(ATTENDANCES.c[name] for name in _ATTENDANCE_READ))


def _attendance_row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "status": AttendanceStatus(row["status"])}


def _attendance_fold() -> Any:
    # The bind parameters are prefixed: SQLAlchemy reserves the bare column names for its
    # own SET parameters.
    return update(ATTENDANCES).where(ATTENDANCES.c.id == bindparam("attendance_id")).values(
        {name: bindparam(f"new_{name}") for name in FOLDED})


def _signup_present() -> Any:
    signups = Signup.__table__
    return update(signups).where(
        signups.c.activity_id == bindparam("of_activity"),
        signups.c.user_id == bindparam("of_user"), _held(signups.c.status)).values(
        status=SignupStatus.CONFIRMED, checked_in_at=bindparam("entered_at"))


# Every column of a scan, bound as ``scan_<column>``: the statements that ride along with the
# insert must not see a parameter named like one of their own columns (SQLAlchemy would add
# it to their SET clause).
_SCAN_COLUMNS = [column.name for column in Scan.__table__.c if column.name != "id"]


def _scan_insert() -> Any:
    return _insert(Scan.__table__).values(
        {name: bindparam(f"scan_{name}") for name in _SCAN_COLUMNS}).on_conflict_do_nothing(
        index_elements=["activity_id", "scan_id"]).returning(Scan.id)


def insert_scan(scan: dict[str, Any], fold: dict[str, Any] | None = None,
                present: dict[str, Any] | None = None) -> int | None:
    """Insert the scan unless its (activity, scan id) is taken: its id, or None.

    ``fold`` (attendance id and ``new_*`` values) and ``present`` (the sign-up's entry) are
    written with it. On PostgreSQL that is one statement, the updates riding along as
    data-modifying CTEs: they run even when the insert conflicts, which is harmless because
    the caller then rolls back."""
    params = {f"scan_{name}": scan[name] for name in _SCAN_COLUMNS}
    if _dialect() != "postgresql":
        if fold is not None:
            _execute(_cached("attendance_fold", _attendance_fold), fold)
        if present is not None:
            _execute(_cached("signup_present", _signup_present), present)
        return _execute(_cached("scan_insert", _scan_insert), params).scalar()

    def build() -> Executable:
        statement = _scan_insert()
        if fold is not None:
            statement = statement.add_cte(_attendance_fold().cte("fold"))
        if present is not None:
            statement = statement.add_cte(_signup_present().cte("present"))
        return statement
    rows = _rows(f"scan_insert:{fold is not None}:{present is not None}", build,
                 {**params, **(fold or {}), **(present or {})})
    return rows[0]["id"] if rows else None


def _rows(name: str, build: Callable[[], Executable], params: dict[str, Any]
          ) -> list[dict[str, Any]]:
    """Run a prebuilt statement in the request's transaction: its rows as dicts, datetimes
    aware (UTC), enums as stored strings."""
    if _dialect() != "postgresql":
        return [dict(row) for row in _execute(_cached(name, build), params).mappings()]
    sql, constants, columns = _compiled(name, build)
    values = {**constants, **{key: _to_driver(value) for key, value in params.items()}}
    # On the session's own connection and transaction (SQLAlchemy began it and commits it),
    # straight through its DBAPI cursor: ``exec_driver_sql`` would still build result
    # metadata from psycopg's column descriptions, a third of a scan's Python calls.
    connection = db.session.connection()
    try:
        with connection.connection.cursor() as cursor:
            cursor.execute(sql, values)
            rows = cursor.fetchall()
    except connection.dialect.loaded_dbapi.Error as error:
        # SQLAlchemy's own handling: the same exception classes as any statement (409 for
        # an integrity error, 503 when the database is away), and a connection the server
        # dropped is invalidated, not pooled again.
        connection._handle_dbapi_exception(error, sql, values, None, None)
    return [{column: _from_driver(value) for column, value in zip(columns, row, strict=True)}
            for row in rows]


_UTC_DATETIME = UTCDateTime()


def _to_driver(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value  # the string enums store values
    if isinstance(value, datetime):
        return _UTC_DATETIME.process_bind_param(value, None)  # naive UTC, or ValueError
    if isinstance(value, dict):
        return Json(value)
    return value


def _from_driver(value: Any) -> Any:
    return _UTC_DATETIME.process_result_value(value, None) if isinstance(value, datetime) \
        else value


# name → (SQL for psycopg, the statement's own constants such as ``role = 'leader'``, the
# names of the columns it returns).
_COMPILED: dict[str, tuple[str, dict[str, Any], list[str]]] = {}


def _compiled(name: str, build: Callable[[], Executable]
              ) -> tuple[str, dict[str, Any], list[str]]:
    if name not in _COMPILED:
        statement = _cached(name, build)
        compiled = statement.compile(dialect=db.engine.dialect)
        constants = {key: _to_driver(bind.effective_value)
                     for key, bind in compiled.binds.items() if not bind.required}
        columns = [column.name for column in statement.exported_columns]
        _COMPILED[name] = (str(compiled), constants, columns)
    return _COMPILED[name]


def _insert(table: Table) -> Any:
    return (postgresql.insert if _dialect() == "postgresql" else sqlite.insert)(table)


# (name, dialect) → statement. Filled on first use; two threads racing build it twice, and
# either copy is right.
_BUILT: dict[tuple[str, str], Executable] = {}


def _cached(name: str, build: Callable[[], Executable]) -> Executable:
    key = (name, _dialect())
    if key not in _BUILT:
        _BUILT[key] = build()
    return _BUILT[key]
