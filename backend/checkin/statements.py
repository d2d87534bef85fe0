"""The scan hot path's SQL, built once with bind parameters.

A scan is a handful of round trips, and building statements (an upsert's ``excluded`` alias
alone makes a proxy of every column) cost more Python than running them; so they are built
the first time each dialect asks and only executed after that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Executable, Table, bindparam, or_, select, update
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


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def activity_for_scanner() -> Executable:
    """The activity, and whether :user_id leads its team or is staff of its community."""
    def build() -> Executable:
        leader = select(TeamMember.id).where(
            TeamMember.team_id == Activity.team_id, TeamMember.user_id == bindparam("user_id"),
            TeamMember.role == TeamRole.LEADER).exists()
        staff = select(StaffMember.id).where(
            StaffMember.community_id == Activity.community_id,
            StaffMember.user_id == bindparam("user_id")).exists()
        return select(Activity, or_(leader, staff)).where(Activity.id == bindparam("activity_id"))
    return _cached("activity_for_scanner", build)


def person() -> Executable:
    """A code holder's name and community, and their sign-up for :activity_id if held."""
    def build() -> Executable:
        signup = select(Signup.id).where(
            Signup.activity_id == bindparam("activity_id"),
            Signup.user_id == bindparam("user_id"), Signup.status.in_(_HELD)).scalar_subquery()
        return select(Resident.real_name, Resident.community_id, signup).where(
            Resident.user_id == bindparam("user_id"))
    return _cached("person", build)


def attendance_upsert() -> Executable:
    """Create the attendance row if need be; either way lock it and return it."""
    def build() -> Executable:
        statement = _insert(ATTENDANCES)
        return statement.on_conflict_do_update(
            index_elements=["activity_id", "user_id"],
            set_={"activity_id": statement.excluded.activity_id}).returning(*ATTENDANCES.c)
    return _cached("attendance_upsert", build)


def attendance_fold() -> Executable:
    return _cached("attendance_fold", lambda: update(ATTENDANCES).where(
        ATTENDANCES.c.id == bindparam("attendance_id")).values(
        {name: bindparam(f"new_{name}") for name in FOLDED}))


def signup_present() -> Executable:
    return _cached("signup_present", lambda: update(Signup).where(
        Signup.activity_id == bindparam("of_activity"), Signup.user_id == bindparam("of_user"),
        Signup.status.in_(_HELD)).values(
        status=SignupStatus.CONFIRMED, checked_in_at=bindparam("entered_at"))
        .execution_options(synchronize_session=False))


def scan_insert() -> Executable:
    """Insert a scan unless its (activity, scan id) is taken; returns the new id or none."""
    return _cached("scan_insert", lambda: _insert(Scan.__table__).on_conflict_do_nothing(
        index_elements=["activity_id", "scan_id"]).returning(Scan.id))


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
