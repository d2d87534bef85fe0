"""Raise notices from any domain; read and mark them from the inbox.

``notify`` only adds the outbox row to the caller's transaction: the notice exists if and
only if the change that caused it was committed.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from backend.auth.models import User
from backend.common.clock import now
from backend.errors import NotFound
from backend.extensions import db
from backend.notify.models import Notification

TEMPLATE_TITLES = {
    "signup_confirmed": "报名成功通知",
    "waitlist_promoted": "候补转正通知",
    "activity_reminder": "活动开始提醒",
    "activity_cancelled": "活动取消通知",
    "points_credited": "积分到账通知",
    "gift_ready": "礼品领取提醒",
    "roster_published": "排班发布通知",
    "shift_reminder": "值班提醒",
    "swap_request": "换班申请通知",
}


def templates() -> list[dict[str, str]]:
    ids = current_app.config["TEMPLATE_IDS"]
    return [{"key": key, "template_id": ids[key], "title": title}
            for key, title in TEMPLATE_TITLES.items()]


def notify(user_id: int, template_key: str, body: str, dedupe_key: str,
           data: dict[str, Any] | None = None, page: str | None = None) -> None:
    """Queue a notice in the current transaction (flushes nothing; the caller commits)."""
    if template_key not in TEMPLATE_TITLES:
        raise ValueError(f"unknown notification template {template_key!r}")
    exists = db.session.scalar(select(Notification.id).where(
        Notification.dedupe_key == dedupe_key))
    if exists is None:
        db.session.add(Notification(
            user_id=user_id, template_key=template_key, title=TEMPLATE_TITLES[template_key],
            body=body[:500], data=data or {}, page=page, dedupe_key=dedupe_key))


def inbox(user: User):
    return (select(Notification).where(Notification.user_id == user.id)
            .order_by(Notification.id.desc()))


def mark_read(user: User, notification_id: int) -> Notification:
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NotFound("找不到该通知")
    if notification.read_at is None:
        notification.read_at = now()
        db.session.commit()
    return notification
