from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.auth.models import User
from backend.common.clock import UTCDateTime, now
from backend.extensions import db


class TeamCategory(enum.StrEnum):
    SERVICE = "service"
    CHARITY = "charity"
    CULTURE_SPORTS = "culture_sports"
    MEDIATION = "mediation"
    PARKING = "parking"


class TeamRole(enum.StrEnum):
    MEMBER = "member"
    LEADER = "leader"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings with a CHECK, so adding a value is a small migration.
    return Enum(cls, name=name, native_enum=False, values_callable=lambda e: [m.value for m in e],
                length=20, create_constraint=True)


class Community(db.Model):
    __tablename__ = "communities"
    __table_args__ = (
        CheckConstraint("noshow_limit > 0", name="noshow_limit_positive"),
        CheckConstraint("noshow_window_days > 0", name="noshow_window_positive"),
        CheckConstraint("suspension_days >= 0", name="suspension_days_not_negative"),
        CheckConstraint("points_per_hour >= 0", name="points_per_hour_not_negative"),
        CheckConstraint("daily_points_cap IS NULL OR daily_points_cap >= 0",
                        name="daily_points_cap_not_negative"),
        CheckConstraint("points_per_hour <= max_points_per_hour", name="rate_within_bound"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    street: Mapped[str] = mapped_column(String(100))
    # SPEC §4: three no-shows within 90 days suspend new sign-ups for 30 days.
    noshow_limit: Mapped[int] = mapped_column(default=3)
    noshow_window_days: Mapped[int] = mapped_column(default=90)
    suspension_days: Mapped[int] = mapped_column(default=30)
    # Points rules (SPEC §6): an activity may override the rate; the cap is per resident
    # per day of service (null: no cap); fractions of a point are rounded down.
    points_per_hour: Mapped[int] = mapped_column(default=10)
    daily_points_cap: Mapped[int | None]
    # Bounds the street sets for the rates staff choose (SPEC §3): an activity's own points
    # per hour, a parking team's points per shift.
    max_points_per_hour: Mapped[int] = mapped_column(default=30, server_default="30")
    max_points_per_shift: Mapped[int] = mapped_column(default=50, server_default="50")
    # SPEC §6: points earned in year Y expire at the end of Y+1 (off unless staff turn it on).
    points_expire: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class StaffMember(db.Model):
    __tablename__ = "staff_members"
    __table_args__ = (UniqueConstraint("community_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    user: Mapped[User] = relationship()


class Resident(db.Model):
    """A user's membership of one community (one at a time: ``user_id`` is unique)."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    real_name: Mapped[str] = mapped_column(String(50))
    building: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str] = mapped_column(String(20))
    room: Mapped[str] = mapped_column(String(20))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    user: Mapped[User] = relationship()


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[TeamCategory] = mapped_column(_enum(TeamCategory, "team_category"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class TeamMember(db.Model):
    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[TeamRole] = mapped_column(_enum(TeamRole, "team_role"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    user: Mapped[User] = relationship()
