"""The scan hot path's SQL, built once with bind parameters.

A scan is a handful of round trips, and building statements (an upsert's ``excluded`` alias
alone makes a proxy of every column) cost more Python than running them; so they are built
the first time each dialect asks and only executed after that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import CursorResult, Executable, Table, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from backend.activities.models import Activity, Signup, SignupStatus
from backend.checkin.models import Attendance, Scan
from backend.communities.models import Resident, StaffMember, TeamMember, TeamRole
from backend.extensions import db

ATTENDANCES = Attendance.__table__
# Columns a scan may change; their bind parameters are prefixed (SQLAlchemy reserves the
# bare column names for its own SET parameters).
FOLDED = ("checked_in_at", "checked_out_at", "last_out_at", "served_minutes", "minutes",
          "status")
_HELD = (SignupStatus.CONFIRMED, SignupStatus.NO_SHOW)
# What the door and the answer read of an attendance row.
_ATTENDANCE_READ = ("id", "activity_id", "user_id", "walk_in", "checked_in_at",
                    "checked_out_at", "last_out_at", "served_minutes", "corrected_minutes",
                    "minutes", "status", "points")


def _held(status: Any) -> Any:
    # Equalities, not IN: an IN list is an "expanding" parameter, re-rendered per execution.
    return or_(*(status == held for held in _HELD))


def execute(statement: Executable, params: dict[str, Any]) -> CursorResult:
    """Run a prebuilt statement on the session's connection, in its transaction (the ORM
    session's own execute adds a layer these plain rows do not need)."""
    return db.session.connection().execute(statement, params)


def _dialect() -> str:
    return db.engine.dialect.name


# What a scan needs of its activity (no ORM object: a row survives a rollback and costs a
# fraction of an entity to load).
DOOR_COLUMNS = (Activity.id, Activity.community_id, Activity.team_id, Activity.status,
                Activity.starts_at, Activity.ends_at, Activity.walk_ins_allowed)


def door() -> Executable:
    """In one query: the activity, whether :scanner_id leads its team or is staff of its
    community, and the code holder :holder_id's name, community and sign-up (nulls when
    there is no holder)."""
    def build() -> Executable:
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
        return (select(*DOOR_COLUMNS, or_(leader, staff).label("may_scan"),
                       Resident.real_name, Resident.community_id.label("holder_community_id"),
                       signup.label("signup_id"))
                .outerjoin(Resident, Resident.user_id == bindparam("holder_id"))
                .where(Activity.id == bindparam("activity_id")))
    return _cached("door", build)


def person() -> Executable:
    """A code holder's name and community, and their sign-up for :activity_id if held."""
    def build() -> Executable:
        signup = select(Signup.id).where(
            Signup.activity_id == bindparam("activity_id"),
            Signup.user_id == bindparam("user_id"), _held(Signup.status)).scalar_subquery()
        return select(Resident.real_name, Resident.community_id, signup).where(
            Resident.user_id == bindparam("user_id"))
    return _cached("person", build)


def attendance_upsert() -> Executable:
    """Create the attendance row if need be; either way lock it and return it."""
    def build() -> Executable:
        statement = _insert(ATTENDANCES)
        return statement.on_conflict_do_update(
            index_elements=["activity_id", "user_id"],
            set_={"activity_id": statement.excluded.activity_id}).returning(
            *(ATTENDANCES.c[name] for name in _ATTENDANCE_READ))
    return _cached("attendance_upsert", build)


def _attendance_fold() -> Any:
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
            execute(_cached("attendance_fold", _attendance_fold), fold)
        if present is not None:
            execute(_cached("signup_present", _signup_present), present)
        return execute(_cached("scan_insert", _scan_insert), params).scalar()

    def build() -> Executable:
        statement = _scan_insert()
        if fold is not None:
            statement = statement.add_cte(_attendance_fold().cte("fold"))
        if present is not None:
            statement = statement.add_cte(_signup_present().cte("present"))
        return statement
    return execute(_cached(f"scan_insert:{fold is not None}:{present is not None}", build),
                   {**params, **(fold or {}), **(present or {})}).scalar()


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
