from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.clock import UTCDateTime, now
from backend.communities.models import _enum
from backend.extensions import db


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"  # written with the change that caused it; not yet handed to WeChat
    SENDING = "sending"  # claimed by a job that is talking to WeChat right now
    SENT = "sent"
    INBOX_ONLY = "inbox_only"  # no subscription grant (or WeChat said 43101): inbox only
    FAILED = "failed"  # permanent error, retries exhausted, or outcome unknown: staff decide


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
    # Quiet hours and back-off: not to be sent before this time (None: at once).
    send_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Handed to RQ at; the drain re-enqueues only rows RQ seems to have lost.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    msgid: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


Index("ix_notifications_outbox", Notification.status, Notification.send_after)


class SubscriptionGrant(db.Model):
    """One ``accept`` from wx.requestSubscribeMessage: exactly one send of that template."""

    __tablename__ = "subscription_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    template_key: Mapped[str] = mapped_column(String(40))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # The notice that spent it; unique, so one grant can never pay for two sends.
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id"), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


Index("ix_subscription_grants_unused", SubscriptionGrant.user_id,
      SubscriptionGrant.template_key, SubscriptionGrant.used_at)
Index("ix_subscription_grants_used_at", SubscriptionGrant.used_at)
