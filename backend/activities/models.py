from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from backend.common.clock import UTCDateTime, now
from backend.communities.models import Team, _enum
from backend.extensions import db
from backend.refusals import ACTIVITY_CANCELLED, ACTIVITY_ENDED, ACTIVITY_NOT_DRAFT, NOT_FOUND


class ActivityStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class SignupStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


ACTIVE_SIGNUP = (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED)


class Activity(db.Model):
    __tablename__ = "activities"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        # The capacity rule lives in the database too: no code path can overbook.
        CheckConstraint("confirmed_count >= 0 AND confirmed_count <= capacity",
                        name="confirmed_within_capacity"),
        Index("ix_activities_community_starts", "community_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    # Copied from the team so that listing a community's activities needs no join.
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int]
    signup_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signup_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    points_per_hour: Mapped[int | None]
    walk_ins_allowed: Mapped[bool] = mapped_column(default=False)
    # Residents may check themselves in by scanning the team's rotating poster code.
    self_checkin_allowed: Mapped[bool] = mapped_column(default=False)
    status: Mapped[ActivityStatus] = mapped_column(
        _enum(ActivityStatus, "activity_status"), default=ActivityStatus.DRAFT)
    # Seats taken, kept by a conditional UPDATE under the row's lock (waitlist.take_seat);
    # ``waitlist_count`` below is counted instead, so that joining the waitlist writes nothing
    # here and the waitlisters of a rush never queue behind the seat lock.
    confirmed_count: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when a leader first signs off hours: from then on the rate is frozen (SPEC §5).
    hours_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The residents' need this activity serves (SPEC §9a); the table belongs to voice, so the
    # key is by name and the rules live in voice's services.
    need_id: Mapped[int | None] = mapped_column(ForeignKey("needs.id"), index=True)

    team: Mapped[Team] = relationship()

    @property
    def effective_signup_closes_at(self) -> datetime:
        return self.signup_closes_at or self.starts_at

    @property
    def effective_cancel_deadline(self) -> datetime:
        return self.cancel_deadline or self.starts_at

    @property
    def page(self) -> str:
        """The mini-program page a notice about this activity opens."""
        return f"pages/activity/detail?id={self.id}"

    @property
    def has_seat(self) -> bool:
        return self.confirmed_count < self.capacity

    def overlaps(self, other: Activity) -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at

    def publish(self) -> None:
        """Draft → published; only a draft that has not ended yet."""
        if self.status != ActivityStatus.DRAFT:
            raise ACTIVITY_NOT_DRAFT()
        if self.ends_at <= now():
            raise ACTIVITY_ENDED()
        self.status = ActivityStatus.PUBLISHED
        self.published_at = now()

    def cancel(self) -> None:
        """→ cancelled, seats and waitlist emptied (the caller cancels the sign-ups)."""
        if self.status == ActivityStatus.CANCELLED:
            raise ACTIVITY_CANCELLED()
        if self.ends_at <= now():
            raise ACTIVITY_ENDED.saying("活动已结束，不能取消")
        self.status = ActivityStatus.CANCELLED
        self.cancelled_at = now()
        self.confirmed_count = 0


class Signup(db.Model):
    __tablename__ = "signups"
    __table_args__ = (
        # One active sign-up per resident and activity, enforced by the database.
        Index("uq_signups_active", "activity_id", "user_id", unique=True,
              sqlite_where=text("status IN ('confirmed', 'waitlisted')"),
              postgresql_where=text("status IN ('confirmed', 'waitlisted')")),
        UniqueConstraint("activity_id", "waitlist_seq", name="uq_signups_waitlist_seq"),
        Index("ix_signups_user_status", "user_id", "status"),
        Index("ix_signups_activity_status", "activity_id", "status", "waitlist_seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[SignupStatus] = mapped_column(_enum(SignupStatus, "signup_status"))
    waitlist_seq: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by the check-in domain on the first accepted entry scan.
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    activity: Mapped[Activity] = relationship()

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_SIGNUP

    def confirm(self) -> None:
        self.status = SignupStatus.CONFIRMED
        self.confirmed_at = now()

    def put_on_waitlist(self, seq: int) -> None:
        self.status = SignupStatus.WAITLISTED
        self.waitlist_seq = seq

    def cancel(self) -> None:
        """Give up a seat or a waitlist place (the caller frees the counters)."""
        if not self.is_active:
            raise NOT_FOUND.saying("您没有报名该活动")
        self.status = SignupStatus.CANCELLED
        self.cancelled_at = now()

    def mark_no_show(self) -> None:
        self.status = SignupStatus.NO_SHOW


# Residents waiting for a seat, counted through ix_signups_activity_status. Deferred: only
# the answers that show it count (listings undefer it), not a sign-up's own loads, which in
# a rush would count a line growing to thousands on every tap.
Activity.waitlist_count = column_property(
    select(func.count(Signup.id))
    .where(Signup.activity_id == Activity.id, Signup.status == SignupStatus.WAITLISTED)
    .correlate_except(Signup).scalar_subquery(), deferred=True)


class WaitlistLine(db.Model):
    """An activity's waitlist numbering: the last place given, on a row of its own so that
    numbering the line never waits on the seat count's lock. Taken as a sign-up's last
    statement, so places are given in the order their sign-ups commit: a resident's place
    counted at the answer is exact, and a rolled-back sign-up leaves no gap."""

    __tablename__ = "waitlist_lines"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), primary_key=True)
    last_seq: Mapped[int]
