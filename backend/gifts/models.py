"""Gifts and redemptions. A gift's ``reserved`` and ``fulfilled`` counters move in the same
transaction as the redemption that changes them, under the gift's row lock; a CHECK keeps
reserved + fulfilled ≤ stock whatever the code above does."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.clock import UTCDateTime, now
from backend.communities.models import _enum
from backend.extensions import db
from backend.refusals import ALREADY_CANCELLED, ALREADY_FULFILLED


class Gift(db.Model):
    __tablename__ = "gifts"
    __table_args__ = (
        CheckConstraint("points_cost > 0", name="points_cost_positive"),
        CheckConstraint("reserved >= 0 AND fulfilled >= 0", name="counters_not_negative"),
        CheckConstraint("reserved + fulfilled <= stock", name="within_stock"),
        CheckConstraint("per_user_limit IS NULL OR per_user_limit > 0",
                        name="per_user_limit_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(1000), default="")
    points_cost: Mapped[int]
    # Everything ever put on the shelf; what is left is stock − reserved − fulfilled.
    stock: Mapped[int]
    reserved: Mapped[int] = mapped_column(default=0)
    fulfilled: Mapped[int] = mapped_column(default=0)
    per_user_limit: Mapped[int | None]  # items per resident over all time; None: no limit
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    @property
    def stock_left(self) -> int:
        return self.stock - self.reserved - self.fulfilled


class RedemptionStatus(enum.StrEnum):
    RESERVED = "reserved"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"


class Redemption(db.Model):
    __tablename__ = "redemptions"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("points > 0", name="points_positive"),
        Index("ix_redemptions_gift_user", "gift_id", "user_id"),
        Index("ix_redemptions_status_expires", "status", "expires_at"),
        Index("ix_redemptions_community", "community_id", "id"),
        Index("ix_redemptions_user", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    gift_id: Mapped[int] = mapped_column(ForeignKey("gifts.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    quantity: Mapped[int]
    points: Mapped[int]
    status: Mapped[RedemptionStatus] = mapped_column(
        _enum(RedemptionStatus, "redemption_status"), default=RedemptionStatus.RESERVED)
    pickup_code: Mapped[str] = mapped_column(String(16), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("point_transfers.id"))
    refund_transfer_id: Mapped[int | None] = mapped_column(ForeignKey("point_transfers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fulfilled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # "about to lapse"
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # "resident", "staff" or "expired": who or what ended the reservation.
    cancel_reason: Mapped[str | None] = mapped_column(String(20))

    def fulfil(self, staff_id: int) -> None:
        self.require_reserved()
        self.status, self.fulfilled_at, self.fulfilled_by = (
            RedemptionStatus.FULFILLED, now(), staff_id)

    def cancel(self, by_user_id: int | None, reason: str) -> None:
        self.require_reserved()
        self.status, self.cancelled_at = RedemptionStatus.CANCELLED, now()
        self.cancelled_by, self.cancel_reason = by_user_id, reason

    def require_reserved(self) -> None:
        if self.status == RedemptionStatus.FULFILLED:
            raise ALREADY_FULFILLED()
        if self.status == RedemptionStatus.CANCELLED:
            raise ALREADY_CANCELLED()
