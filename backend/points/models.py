"""Accounts and transfers. A transfer moves ``amount`` from one account to another; rows
are never updated or deleted (a mistake is fixed by a reversing transfer), and each
account's stored balance changes in the same transaction as the transfer that moves it."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.clock import UTCDateTime, now
from backend.communities.models import _enum
from backend.extensions import db
from backend.refusals import ADJUSTMENT_ALREADY_APPLIED, ALREADY_REVERSED


class AccountKind(enum.StrEnum):
    RESIDENT = "resident"
    ISSUED = "issued"  # minting for service and duty: goes negative by what was issued
    REDEEMED = "redeemed"  # points spent on gifts
    EXPIRED = "expired"
    ADJUSTMENTS = "adjustments"


class TransferReason(enum.StrEnum):
    SERVICE = "service"
    DUTY = "duty"
    REDEEM = "redeem"
    REFUND = "refund"
    EXPIRE = "expire"
    ADJUST = "adjust"


class Account(db.Model):
    __tablename__ = "point_accounts"
    __table_args__ = (
        # A resident can never owe points, whatever the concurrency.
        CheckConstraint("kind <> 'resident' OR balance >= 0", name="resident_not_negative"),
        CheckConstraint("(kind = 'resident') = (user_id IS NOT NULL)", name="owner_matches_kind"),
        Index("uq_point_accounts_resident", "community_id", "user_id", unique=True,
              postgresql_where=text("user_id IS NOT NULL"),
              sqlite_where=text("user_id IS NOT NULL")),
        Index("uq_point_accounts_system", "community_id", "kind", unique=True,
              postgresql_where=text("user_id IS NULL"), sqlite_where=text("user_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    kind: Mapped[AccountKind] = mapped_column(_enum(AccountKind, "point_account_kind"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    balance: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Transfer(db.Model):
    __tablename__ = "point_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("from_account_id <> to_account_id", name="distinct_accounts"),
        # SPEC §3: points for service and duty have two different people on record (the
        # one who confirmed and the one who approved); the reconciliation also checks that
        # neither is the resident who receives them.
        CheckConstraint("reason NOT IN ('service', 'duty') OR reverses_id IS NOT NULL OR "
                        "(prepared_by IS NOT NULL AND author_id IS NOT NULL "
                        "AND prepared_by <> author_id)", name="minted_by_two"),
        CheckConstraint("served_from IS NULL OR served_to > served_from",
                        name="served_in_order"),
        Index("ix_point_transfers_from", "from_account_id", "id"),
        Index("ix_point_transfers_to", "to_account_id", "id"),
        Index("ix_point_transfers_community_created", "community_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    from_account_id: Mapped[int] = mapped_column(ForeignKey("point_accounts.id"))
    to_account_id: Mapped[int] = mapped_column(ForeignKey("point_accounts.id"))
    amount: Mapped[int]
    reason: Mapped[TransferReason] = mapped_column(_enum(TransferReason, "transfer_reason"))
    # What caused it, e.g. "attendance:42", "redemption:7".
    ref: Mapped[str] = mapped_column(String(80))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The first of the two people behind points that are minted or given back (who
    # confirmed the hours, requested the adjustment or reversal); ``author_id`` approved it.
    prepared_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # When the service or duty that earned it took place: one hour is paid once.
    served_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    served_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("point_transfers.id"),
                                                    unique=True)
    # Both accounts' balances right after this transfer: statements without a running sum.
    from_balance_after: Mapped[int]
    to_balance_after: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class AdjustmentStatus(enum.StrEnum):
    PENDING = "pending"
    APPLIED = "applied"


class Adjustment(db.Model):
    """A manual correction: requested by one staff member, applied by another."""

    __tablename__ = "point_adjustments"
    __table_args__ = (CheckConstraint("amount <> 0", name="amount_not_zero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[int]  # signed, from the resident's view
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[AdjustmentStatus] = mapped_column(
        _enum(AdjustmentStatus, "adjustment_status"), default=AdjustmentStatus.PENDING)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("point_transfers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def require_pending(self) -> None:
        """Refused before any point moves: an adjustment is applied once."""
        if self.status != AdjustmentStatus.PENDING:
            raise ADJUSTMENT_ALREADY_APPLIED()

    def apply(self, approver_id: int, transfer_id: int) -> None:
        self.require_pending()
        self.status, self.approved_by = AdjustmentStatus.APPLIED, approver_id
        self.approved_at, self.transfer_id = now(), transfer_id


class ReversalStatus(enum.StrEnum):
    PENDING = "pending"
    APPLIED = "applied"


class Reversal(db.Model):
    """Undoing a mistaken transfer: requested by one staff member, applied by another."""

    __tablename__ = "point_reversals"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    transfer_id: Mapped[int] = mapped_column(ForeignKey("point_transfers.id"), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[ReversalStatus] = mapped_column(
        _enum(ReversalStatus, "reversal_status"), default=ReversalStatus.PENDING)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reversing_transfer_id: Mapped[int | None] = mapped_column(
        ForeignKey("point_transfers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def require_pending(self) -> None:
        """Refused before the reversing transfer is written: a reversal is applied once."""
        if self.status != ReversalStatus.PENDING:
            raise ALREADY_REVERSED()

    def apply(self, approver_id: int, reversing_transfer_id: int) -> None:
        self.require_pending()
        self.status, self.approved_by = ReversalStatus.APPLIED, approver_id
        self.approved_at, self.reversing_transfer_id = now(), reversing_transfer_id


class ClosedPeriod(db.Model):
    """A month whose books are closed: no transfer may be dated inside it any more.

    What the month held when it was closed is kept, so reconciliation can prove later
    that nothing was written into it afterwards."""

    __tablename__ = "point_closed_periods"
    __table_args__ = (UniqueConstraint("community_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    month: Mapped[date]  # the first day of the month (community time)
    transfer_count: Mapped[int]
    amount_total: Mapped[int] = mapped_column(BigInteger)
    closed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ExpiryRun(db.Model):
    """Year ``year``'s points of the community have been expired (the job's bookmark)."""

    __tablename__ = "point_expiry_runs"
    __table_args__ = (UniqueConstraint("community_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    year: Mapped[int]
    accounts_expired: Mapped[int] = mapped_column(default=0)
    points_expired: Mapped[int] = mapped_column(BigInteger, default=0)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
