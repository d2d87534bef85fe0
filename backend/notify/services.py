"""Raise notices from any domain; read and mark them from the inbox.

``notify`` only adds the outbox row to the caller's transaction: the notice exists if and
only if the change that caused it was committed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select

from backend.auth.models import User
from backend.common.clock import now
from backend.common.transactions import upsert_insert
from backend.communities.access import is_staff_of, require_staff
from backend.communities.models import Resident
from backend.extensions import db
from backend.notify.delivery import send_after
from backend.notify.models import Notification, NotificationStatus, SubscriptionGrant
from backend.notify.outbox import remember_new_notice
from backend.refusals import NOT_FOUND, NOTIFICATION_NOT_FAILED

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
    "need_update": "需求处理进展通知",
    "evaluation_invite": "活动评价邀请",
}


def templates() -> list[dict[str, str]]:
    ids = current_app.config["TEMPLATE_IDS"]
    return [{"key": key, "template_id": ids[key], "title": title}
            for key, title in TEMPLATE_TITLES.items()]


def notify(user_id: int, template_key: str, body: str, dedupe_key: str,
           data: dict[str, Any] | None = None, page: str | None = None) -> int:
    """Write a notice into the caller's transaction; it is enqueued after the commit.

    Returns 1 if written, 0 if this event was already notified (same ``dedupe_key``).
    """
    if template_key not in TEMPLATE_TITLES:
        raise ValueError(f"unknown notification template {template_key!r}")
    deliver_after = send_after(template_key, now(), current_app.config["QUIET_HOURS"])
    # One statement, and safe against a concurrent writer of the same event (two workers'
    # overlapping reminder runs): the dedupe key's unique index decides, nobody fails.
    notice_id = db.session.scalar(
        upsert_insert(Notification).values(
            user_id=user_id, template_key=template_key, title=TEMPLATE_TITLES[template_key],
            body=body[:500], data=data or {}, page=page, dedupe_key=dedupe_key,
            send_after=deliver_after)
        .on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(Notification.id))
    if notice_id is None:
        return 0
    remember_new_notice(db.session, notice_id, deliver_after)
    return 1


def inbox(user: User):
    return (select(Notification).where(Notification.user_id == user.id)
            .order_by(Notification.id.desc()))


def mark_read(user: User, notification_id: int) -> Notification:
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NOT_FOUND.saying("找不到该通知")
    if notification.read_at is None:
        notification.read_at = now()
        db.session.commit()
    return notification


def grant_subscriptions(user: User, template_ids: list[str]) -> list[str]:
    """Record what wx.requestSubscribeMessage accepted: one grant per template id, up to
    ``MAX_OPEN_GRANTS`` unspent ones per template (beyond that WeChat's own count is the
    limit that matters, and the table would only grow).

    Returns the ids that are not Linli's templates (ignored, e.g. after a settings change).
    """
    keys_by_id = {tid: key for key, tid in current_app.config["TEMPLATE_IDS"].items()}
    limit, held = current_app.config["MAX_OPEN_GRANTS"], _open_grants(user.id)
    for tid in template_ids:
        key = keys_by_id.get(tid)
        if key is not None and held.get(key, 0) < limit:
            db.session.add(SubscriptionGrant(user_id=user.id, template_key=key))
            held[key] = held.get(key, 0) + 1
    db.session.commit()
    return [tid for tid in template_ids if tid not in keys_by_id]


def _open_grants(user_id: int) -> dict[str, int]:
    return dict(db.session.execute(
        select(SubscriptionGrant.template_key, func.count())
        .where(SubscriptionGrant.user_id == user_id, SubscriptionGrant.used_at.is_(None))
        .group_by(SubscriptionGrant.template_key)).all())


def sweep_spent_grants() -> int:
    """Delete grants spent more than ``GRANT_KEEP_DAYS`` ago (each already paid for its one
    send; the notice keeps the record). Safe to run twice. Returns how many went."""
    cutoff = now() - timedelta(days=current_app.config["GRANT_KEEP_DAYS"])
    count = db.session.execute(delete(SubscriptionGrant).where(
        SubscriptionGrant.used_at < cutoff),
        execution_options={"synchronize_session": False}).rowcount
    db.session.commit()
    return count


def available_grants(user: User) -> list[dict[str, Any]]:
    counts = _open_grants(user.id)
    ids = current_app.config["TEMPLATE_IDS"]
    return [{"key": key, "template_id": ids[key], "available": counts.get(key, 0)}
            for key in TEMPLATE_TITLES]


def failed_notifications(actor: User, community_id: int):
    """Notices to residents of the community that WeChat did not take (staff)."""
    require_staff(actor, community_id)
    return (select(Notification)
            .join(Resident, Resident.user_id == Notification.user_id)
            .where(Resident.community_id == community_id,
                   Notification.status == NotificationStatus.FAILED)
            .order_by(Notification.id.desc()))


def retry_notification(actor: User, notification_id: int) -> Notification:
    notice = db.session.get(Notification, notification_id)
    resident = notice and db.session.scalar(
        select(Resident).where(Resident.user_id == notice.user_id))
    if resident is None or not is_staff_of(actor, resident.community_id):
        raise NOT_FOUND.saying("找不到该通知")
    if notice.status != NotificationStatus.FAILED:
        raise NOTIFICATION_NOT_FAILED()
    notice.status, notice.send_after, notice.queued_at = NotificationStatus.PENDING, None, None
    notice.attempts = 0
    remember_new_notice(db.session, notice.id, None)
    db.session.commit()
    return notice
