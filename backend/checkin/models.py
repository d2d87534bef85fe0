"""Scans, attendances and certificates (SPEC §5).

Every scan — refused ones too — is its own append-only row; an attendance is derived from
the accepted scans of one resident at one activity (earliest entry, latest exit), so the
same scans give the same attendance whatever order they arrive in.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.checkin.hours import served_minutes
from backend.common.clock import UTCDateTime, now
from backend.communities.models import _enum
from backend.extensions import db


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


class ScanResult(enum.StrEnum):
    OK = "ok"
    ALREADY_IN = "already_in"
    ALREADY_OUT = "already_out"
    NOT_CHECKED_IN = "not_checked_in"
    NOT_SIGNED_UP = "not_signed_up"
    INVALID_CODE = "invalid_code"
    EXPIRED_CODE = "expired_code"
    OUTSIDE_WINDOW = "outside_window"
    # Checked in to another activity at the same time: one hour is paid once.
    TIME_CONFLICT = "time_conflict"


# A scan with one of these results proves the resident was at the door at ``scanned_at``.
ACCEPTED_RESULTS = (ScanResult.OK, ScanResult.ALREADY_IN, ScanResult.ALREADY_OUT,
                    ScanResult.NOT_CHECKED_IN)


class AttendanceStatus(enum.StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    APPROVED = "approved"
    REJECTED = "rejected"
    NO_SHOW = "no_show"


# Approved or rejected hours are final; fixes go through points adjustments.
LOCKED_STATUSES = (AttendanceStatus.APPROVED, AttendanceStatus.REJECTED)
# What reopening sets: the leader confirms the hours again, so that approval credits what
# was reviewed.
REOPENED: Mapping[str, Any] = {"status": AttendanceStatus.OPEN, "confirmed_by": None,
                               "confirmed_at": None, "points_per_hour": None}
# The columns a scan may change.
FOLDED = ("checked_in_at", "checked_out_at", "last_out_at", "served_minutes", "minutes",
          "status", "confirmed_by", "confirmed_at", "points_per_hour")


def counted_minutes(served: int, corrected: int | None) -> int:
    """A leader's correction overrides the minutes served."""
    return corrected if corrected is not None else served


def fold(values: Mapping[str, Any], direction: Direction, at: datetime, starts_at: datetime,
         ends_at: datetime, early: timedelta) -> dict[str, Any]:
    """An attendance's values (``FOLDED`` and ``corrected_minutes``) with one accepted scan
    folded in: the earliest entry and the latest exit win, the minutes are served time
    clipped to the activity's window (``hours.served_minutes``).

    Min and max do not care about order, so the same scans give the same attendance
    however they arrive (live, offline, shuffled, duplicated). Locked hours stay as they
    were decided; an entry undoes a no-show; a late upload that changes confirmed minutes
    reopens them."""
    row = dict(values)
    if row["status"] in LOCKED_STATUSES:
        return row
    if direction == Direction.IN:
        row["checked_in_at"] = min(filter(None, (row["checked_in_at"], at)))
    else:
        row["last_out_at"] = max(filter(None, (row["last_out_at"], at)))
    first_in, last_out = row["checked_in_at"], row["last_out_at"]
    row["checked_out_at"] = last_out if first_in and last_out and last_out >= first_in \
        else None
    row["served_minutes"] = served_minutes(first_in, row["checked_out_at"], starts_at,
                                           ends_at, early)
    row["minutes"] = counted_minutes(row["served_minutes"], row["corrected_minutes"])
    if (first_in is not None and row["status"] == AttendanceStatus.NO_SHOW) or (
            row["status"] == AttendanceStatus.CONFIRMED
            and row["minutes"] != values["minutes"]):
        row.update(REOPENED)
    return row


class Scan(db.Model):
    __tablename__ = "scans"
    __table_args__ = (
        # The device's scan id makes a retried upload a no-op.
        UniqueConstraint("activity_id", "scan_id", name="uq_scans_activity_scan_id"),
        Index("ix_scans_activity_user", "activity_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    scan_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[Direction] = mapped_column(_enum(Direction, "scan_direction"))
    # Whose code it was (null when the code could not be read), and who held the scanner.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    scanner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    self_service: Mapped[bool] = mapped_column(default=False)
    device: Mapped[str | None] = mapped_column(String(64))
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    offline: Mapped[bool] = mapped_column(default=False)
    result: Mapped[ScanResult | None] = mapped_column(_enum(ScanResult, "scan_result"))
    # The first answer, replayed verbatim when the same scan id comes again.
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    @property
    def is_accepted(self) -> bool:
        return self.result in ACCEPTED_RESULTS


class Attendance(db.Model):
    __tablename__ = "attendances"
    __table_args__ = (
        UniqueConstraint("activity_id", "user_id", name="uq_attendances_activity_user"),
        CheckConstraint("served_minutes >= 0", name="served_minutes_not_negative"),
        CheckConstraint("minutes >= 0", name="minutes_not_negative"),
        CheckConstraint("corrected_minutes IS NULL OR corrected_minutes >= 0",
                        name="corrected_minutes_not_negative"),
        Index("ix_attendances_community_status", "community_id", "status"),
        Index("ix_attendances_user_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    walk_in: Mapped[bool] = mapped_column(default=False)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The latest accepted exit, even one scanned before any entry arrived (offline uploads
    # come in any order); ``checked_out_at`` is it once it follows the entry.
    last_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # From the scans; a leader's correction overrides it; ``minutes`` is what counts.
    served_minutes: Mapped[int] = mapped_column(default=0)
    corrected_minutes: Mapped[int | None]
    minutes: Mapped[int] = mapped_column(default=0)
    status: Mapped[AttendanceStatus] = mapped_column(
        _enum(AttendanceStatus, "attendance_status"), default=AttendanceStatus.OPEN)
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The rate the leader's sign-off was made at: approval credits what was confirmed.
    points_per_hour: Mapped[int | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(String(200))
    points: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    @classmethod
    def first_values(cls, **given: Any) -> dict[str, Any]:
        """A resident's first attendance before it is inserted (no id yet): the columns'
        defaults, then ``given``."""
        defaults = {column.name: column.default.arg
                    if column.default is not None and column.default.is_scalar else None
                    for column in cls.__table__.c}
        return {**defaults, "created_at": now(), **given}

    @property
    def is_locked(self) -> bool:
        return self.status in LOCKED_STATUSES

    def fold(self, direction: Direction, at: datetime, starts_at: datetime,
             ends_at: datetime, early: timedelta) -> None:
        """Fold one accepted scan in (see ``fold``)."""
        values = {name: getattr(self, name) for name in (*FOLDED, "corrected_minutes")}
        for name, value in fold(values, direction, at, starts_at, ends_at, early).items():
            setattr(self, name, value)

    def set_served(self, minutes: int) -> None:
        self.served_minutes = minutes
        self._refresh_minutes()

    @property
    def points_due(self) -> int | None:
        """What approval will credit before the daily cap (once the rate is frozen)."""
        if self.points_per_hour is None:
            return None
        return self.minutes * self.points_per_hour // 60

    def correct(self, minutes: int) -> None:
        """A leader's or staff member's fix; confirmed hours need confirming again."""
        self.corrected_minutes = minutes
        self._refresh_minutes()
        if self.status in (AttendanceStatus.NO_SHOW, AttendanceStatus.CONFIRMED):
            self.reopen()

    def reopen(self) -> None:
        for name, value in REOPENED.items():
            setattr(self, name, value)

    def confirm(self, leader_id: int, points_per_hour: int) -> None:
        self.status = AttendanceStatus.CONFIRMED
        self.confirmed_by, self.confirmed_at = leader_id, now()
        self.points_per_hour = points_per_hour

    def approve(self, staff_id: int, points: int) -> None:
        self.status = AttendanceStatus.APPROVED
        self.decided_by, self.decided_at, self.points = staff_id, now(), points

    def reject(self, staff_id: int, note: str) -> None:
        self.status = AttendanceStatus.REJECTED
        self.decided_by, self.decided_at, self.decision_note = staff_id, now(), note

    def _refresh_minutes(self) -> None:
        self.minutes = counted_minutes(self.served_minutes, self.corrected_minutes)


class AttendanceCorrection(db.Model):
    """A leader's change of minutes: kept with who, when and why."""

    __tablename__ = "attendance_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    attendance_id: Mapped[int] = mapped_column(ForeignKey("attendances.id"), index=True)
    minutes_before: Mapped[int]
    minutes_after: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Certificate(db.Model):
    """A volunteer service certificate (志愿服务证明): a signed snapshot of approved service."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    verification_code: Mapped[str] = mapped_column(String(32), unique=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(Text)
    issued_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
