"""Needs (民事民提), their supports, the people an activity serves and their evaluations
(民事民评). A need's ``supporters`` counter moves in the same statement as the support row
that changes it (an atomic UPDATE), and a CHECK keeps it non-negative whatever the code
above does; one evaluation per resident and activity is a UNIQUE constraint."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.clock import UTCDateTime, now
from backend.communities.models import _enum
from backend.extensions import db


class NeedCategory(enum.StrEnum):
    ENVIRONMENT = "environment"
    ELDERLY = "elderly"
    CHILDREN = "children"
    PARKING = "parking"
    SAFETY = "safety"
    CULTURE = "culture"
    OTHER = "other"


class NeedStatus(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    MERGED = "merged"
    DONE = "done"


# Statuses a need can be merged into (a closed need takes no more supporters).
MERGE_TARGETS = (NeedStatus.OPEN, NeedStatus.ACCEPTED)

TITLE_MAX = 100
DESCRIPTION_MAX = 2000
REPLY_MAX = 1000
COMMENT_MAX = 500
HIDDEN_REASON_MAX = 200


class Need(db.Model):
    __tablename__ = "needs"
    __table_args__ = (
        CheckConstraint("supporters >= 0", name="supporters_not_negative"),
        CheckConstraint("merged_into_id IS NULL OR merged_into_id <> id",
                        name="not_merged_into_itself"),
        Index("ix_needs_community_status_supporters", "community_id", "status", "supporters"),
        Index("ix_needs_community_created", "community_id", "created_at"),
        Index("ix_needs_author_created", "author_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[NeedCategory] = mapped_column(_enum(NeedCategory, "need_category"))
    status: Mapped[NeedStatus] = mapped_column(
        _enum(NeedStatus, "need_status"), default=NeedStatus.OPEN)
    reply: Mapped[str | None] = mapped_column(String(REPLY_MAX))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("needs.id"))
    triaged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    triaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Kept equal to the number of need_supports rows by atomic UPDATEs next to each insert
    # or delete; listing by support then needs no count.
    supporters: Mapped[int] = mapped_column(default=0)

    @property
    def page(self) -> str:
        """The mini-program page a notice about this need opens."""
        return f"pages/voice/need?id={self.id}"

    def triage(self, status: NeedStatus, reply: str, by: int, *, team_id: int | None = None,
               merged_into_id: int | None = None) -> None:
        self.status = status
        self.reply = reply
        self.triaged_by = by
        self.triaged_at = now()
        if status == NeedStatus.ACCEPTED:
            self.team_id = team_id
        if status == NeedStatus.MERGED:
            self.merged_into_id = merged_into_id


class NeedSupport(db.Model):
    __tablename__ = "need_supports"
    __table_args__ = (Index("ix_need_supports_user", "user_id"),)

    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ActivityBeneficiary(db.Model):
    """A resident an activity lists as one of the people it serves (谁受益谁评价)."""

    __tablename__ = "activity_beneficiaries"
    __table_args__ = (Index("ix_activity_beneficiaries_user", "user_id"),)

    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class Evaluation(db.Model):
    __tablename__ = "evaluations"
    __table_args__ = (
        CheckConstraint("rating >= 1 AND rating <= 5", name="rating_range"),
        # One evaluation per resident and activity, whatever two racing requests do.
        UniqueConstraint("activity_id", "user_id", name="uq_evaluations_activity_user"),
        Index("ix_evaluations_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    rating: Mapped[int]
    comment: Mapped[str | None] = mapped_column(String(COMMENT_MAX))
    # Staff hide an abusive evaluation; it is never edited or deleted.
    hidden: Mapped[bool] = mapped_column(default=False)
    hidden_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    hidden_reason: Mapped[str | None] = mapped_column(String(HIDDEN_REASON_MAX))
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    def hide(self, by: int, reason: str) -> None:
        self.hidden = True
        self.hidden_by = by
        self.hidden_reason = reason
        self.hidden_at = now()
