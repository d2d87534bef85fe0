from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.clock import UTCDateTime, now
from backend.communities.models import _enum
from backend.extensions import db


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"  # written with the change that caused it; not yet handed to WeChat
    SENT = "sent"
    INBOX_ONLY = "inbox_only"  # no subscription grant: the in-app inbox is the only channel
    FAILED = "failed"


class Notification(db.Model):
    """An outbox row and an inbox entry at once (SPEC §9)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    template_key: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    page: Mapped[str | None] = mapped_column(String(200))
    # The same event never notifies twice: e.g. "signup_confirmed:signup:42".
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[NotificationStatus] = mapped_column(
        _enum(NotificationStatus, "notification_status"), default=NotificationStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
