"""Parking duty (SPEC §8): shift templates, availability, rosters, assignments, swaps,
fees. Times are stored in UTC; a shift's ``date`` is the local date it starts on."""

from __future__ import annotations

import enum
from datetime import date, datetime, time

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.clock import LOCAL_TZ, UTCDateTime, now
from backend.communities.models import _enum
from backend.extensions import db
from backend.parking.rules import Availability, Shift
from backend.refusals import ROSTER_OVERLAPS, ROSTER_PUBLISHED, SWAP_NOT_ACCEPTED, SWAP_NOT_PENDING


class DutySettings(db.Model):
    """Per parking team: points per approved shift (staff), and where the post stands."""

    __tablename__ = "duty_settings"
    __table_args__ = (
        CheckConstraint("points_per_shift >= 0", name="points_not_negative"),
        CheckConstraint("post_radius_m IS NULL OR post_radius_m > 0", name="radius_positive"),
    )

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    points_per_shift: Mapped[int] = mapped_column(default=0)
    # Check-in at the post needs the phone there (wx.getLocation), within the radius.
    post_latitude: Mapped[float | None]
    post_longitude: Mapped[float | None]
    post_radius_m: Mapped[int | None]
    # Signed into the printed post code: rotating it voids every copy of the old one.
    post_code_version: Mapped[int] = mapped_column(default=0, server_default="0")

    @property
    def has_post_location(self) -> bool:
        return self.post_latitude is not None and self.post_longitude is not None


class ShiftTemplate(db.Model):
    __tablename__ = "shift_templates"
    __table_args__ = (
        UniqueConstraint("team_id", "name"),
        CheckConstraint("needed > 0", name="needed_positive"),
        CheckConstraint("start_time <> end_time", name="not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(20))
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)  # at or before start: ends the next day
    needed: Mapped[int] = mapped_column(default=1)


class MemberAvailability(db.Model):
    __tablename__ = "member_availability"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id"),
        CheckConstraint("max_shifts_per_week IS NULL OR max_shifts_per_week >= 0",
                        name="weekly_max_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    unavailable: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO dates
    max_shifts_per_week: Mapped[int | None]
    no_night: Mapped[bool] = mapped_column(default=False)
    avoid_shifts: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)

    def rules(self) -> Availability:
        return Availability(frozenset(date.fromisoformat(d) for d in self.unavailable),
                            self.max_shifts_per_week, self.no_night,
                            frozenset(self.avoid_shifts))


class RosterStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Roster(db.Model):
    __tablename__ = "rosters"
    __table_args__ = (CheckConstraint("last_day >= first_day", name="days_in_order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    status: Mapped[RosterStatus] = mapped_column(_enum(RosterStatus, "roster_status"),
                                                 default=RosterStatus.DRAFT)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="roster", order_by="Assignment.starts_at, Assignment.id")

    @property
    def is_published(self) -> bool:
        return self.status == RosterStatus.PUBLISHED

    def publish(self, overlapping_id: int | None) -> None:
        """Draft → published, unless ``overlapping_id`` (a published roster of the team
        over some of the same days) is already out."""
        if self.is_published:
            raise ROSTER_PUBLISHED()
        if overlapping_id is not None:
            raise ROSTER_OVERLAPS(details={"roster_id": overlapping_id})
        self.status, self.published_at = RosterStatus.PUBLISHED, now()


class AssignmentStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    COMPLETED = "completed"  # checked in at the post (or handed over)
    CONFIRMED = "confirmed"  # a leader signed the shift off
    APPROVED = "approved"  # staff approved: duty points credited
    MISSED = "missed"  # ended with no check-in


SERVED = (AssignmentStatus.COMPLETED, AssignmentStatus.CONFIRMED, AssignmentStatus.APPROVED)


class CheckinMethod(enum.StrEnum):
    LOCATION = "location"  # the post code, with the phone within the post's radius
    HANDOVER = "handover"  # the outgoing member scanned the incoming one's code (交接班)


class Assignment(db.Model):
    """One seat of one shift on one date; ``user_id`` is None while nobody could take it."""

    __tablename__ = "duty_assignments"
    __table_args__ = (
        UniqueConstraint("roster_id", "date", "shift", "seat"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("status = 'scheduled' OR user_id IS NOT NULL", name="held_when_done"),
        Index("ix_duty_assignments_user_starts", "user_id", "starts_at"),
        Index("ix_duty_assignments_status_ends", "status", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    roster_id: Mapped[int] = mapped_column(ForeignKey("rosters.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    date: Mapped[date] = mapped_column(Date)
    shift: Mapped[str] = mapped_column(String(20))
    seat: Mapped[int] = mapped_column(default=1)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[AssignmentStatus] = mapped_column(
        _enum(AssignmentStatus, "assignment_status"), default=AssignmentStatus.SCHEDULED)
    # Why nobody holds it (members excluded per rule), for the ``unfilled`` list.
    unfilled_reasons: Mapped[dict | None] = mapped_column(JSON)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checkin_method: Mapped[CheckinMethod | None] = mapped_column(
        _enum(CheckinMethod, "duty_checkin_method"))
    handed_over_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The two people behind the shift's points (SPEC §3), and the rate frozen at sign-off.
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    points_per_shift: Mapped[int | None]
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    points: Mapped[int | None]
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("point_transfers.id"))

    roster: Mapped[Roster] = relationship(back_populates="assignments")

    @property
    def label(self) -> str:
        starts = self.starts_at.astimezone(LOCAL_TZ)
        return f"{starts:%m月%d日} {self.shift}（{starts:%H:%M}起）"

    @property
    def is_served(self) -> bool:
        return self.status in SERVED

    def as_shift(self) -> Shift:
        return Shift(self.date, self.shift, self.starts_at, self.ends_at)

    @property
    def is_night(self) -> bool:
        return self.as_shift().is_night

    def complete(self, at: datetime, method: CheckinMethod,
                 handed_over_by: int | None = None) -> None:
        self.status, self.checked_in_at = AssignmentStatus.COMPLETED, at
        self.checkin_method, self.handed_over_by = method, handed_over_by

    def confirm(self, leader_id: int, points_per_shift: int) -> None:
        self.status, self.confirmed_by, self.confirmed_at = (
            AssignmentStatus.CONFIRMED, leader_id, now())
        self.points_per_shift = points_per_shift

    def approve(self, staff_id: int, points: int, transfer_id: int | None) -> None:
        self.status, self.approved_by, self.approved_at = (
            AssignmentStatus.APPROVED, staff_id, now())
        self.points, self.transfer_id = points, transfer_id

    def mark_missed(self) -> None:
        self.status = AssignmentStatus.MISSED


class SwapStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the other member
    ACCEPTED = "accepted"  # waiting for the leader
    APPROVED = "approved"  # the assignment moved
    DECLINED = "declined"
    CANCELLED = "cancelled"  # withdrawn, or the shift changed hands meanwhile


OPEN_SWAP = (SwapStatus.PENDING, SwapStatus.ACCEPTED)


class SwapRequest(db.Model):
    __tablename__ = "swap_requests"
    __table_args__ = (
        CheckConstraint("from_user_id <> to_user_id", name="two_people"),
        # One open request per shift, whatever the concurrency.
        Index("uq_swap_requests_open", "assignment_id", unique=True,
              sqlite_where=text("status IN ('pending', 'accepted')"),
              postgresql_where=text("status IN ('pending', 'accepted')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("duty_assignments.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    to_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[SwapStatus] = mapped_column(_enum(SwapStatus, "swap_status"),
                                               default=SwapStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    assignment: Mapped[Assignment] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_SWAP

    # The guards are separate so a use case can refuse before it re-checks the rules
    # against the database (a refused request is never marked stale).
    def require_pending(self) -> None:
        if self.status != SwapStatus.PENDING:
            raise SWAP_NOT_PENDING()

    def require_accepted(self) -> None:
        if self.status != SwapStatus.ACCEPTED:
            raise SWAP_NOT_ACCEPTED()

    def require_open(self) -> None:
        if not self.is_open:
            raise SWAP_NOT_PENDING.saying("该换班申请已处理")

    def accept(self) -> None:
        """The receiver takes the shift on; the leader still has to approve."""
        self.require_pending()
        self.status = SwapStatus.ACCEPTED

    def approve(self, approver_id: int) -> None:
        """The leader's yes: the shift changes hands (the receiver now holds it)."""
        self.require_accepted()
        self.assignment.user_id = self.to_user_id
        self.status, self.decided_at, self.approved_by = SwapStatus.APPROVED, now(), approver_id

    def decline(self, by_user_id: int) -> None:
        """Declined by the receiver or a manager; withdrawn (cancelled) by the requester."""
        self.require_open()
        withdrawn = by_user_id == self.from_user_id
        self.status = SwapStatus.CANCELLED if withdrawn else SwapStatus.DECLINED
        self.decided_at = now()

    def go_stale(self) -> None:
        """The shift changed hands meanwhile: the request lapses."""
        self.status, self.decided_at = SwapStatus.CANCELLED, now()


class Fee(db.Model):
    """A parking fee collected from a car owner; ``amount_fen`` in 分 (1/100 yuan)."""

    __tablename__ = "parking_fees"
    __table_args__ = (
        CheckConstraint("(voids_id IS NULL AND amount_fen > 0) OR "
                        "(voids_id IS NOT NULL AND amount_fen < 0 AND void_reason IS NOT NULL)",
                        name="amount_signed_by_kind"),
        Index("ix_parking_fees_team_period", "team_id", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    plate: Mapped[str] = mapped_column(String(12))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM, the month the fee pays for
    amount_fen: Mapped[int]
    collected_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # A wrong entry is never edited: a void is a second entry of the opposite amount.
    voids_id: Mapped[int | None] = mapped_column(ForeignKey("parking_fees.id"), unique=True)
    void_reason: Mapped[str | None] = mapped_column(String(200))

    @property
    def is_void(self) -> bool:
        return self.voids_id is not None
