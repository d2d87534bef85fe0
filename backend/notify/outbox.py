"""The outbox row's life: claim → sent | inbox_only | retry | failed. Each step commits.

No RQ here: handing rows to RQ is ``notify/tasks.py``'s job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from backend.auth.models import User
from backend.common.clock import now
from backend.extensions import db
from backend.notify.delivery import template_data
from backend.notify.models import Notification, NotificationStatus, SubscriptionGrant
from backend.wechat import WeChatError

USER_REFUSED = 43101  # no (or no longer a) subscription: WeChat will not deliver it
# A template id the mini-program does not hold (a mistyped LINLI_TEMPLATE_*): a setting to
# fix, so the notice fails loudly and is listed for staff; never quietly inbox-only.
TEMPLATE_NOT_HELD = 40037
CLOCK_TOLERANCE = timedelta(seconds=5)
# Where a session keeps the notices it wrote until its commit (see notify/tasks.py).
NEW_NOTICES = "linli_new_notifications"


@dataclass
class Claim:
    openid: str
    template_id: str
    data: dict[str, str]
    page: str | None


def claim(notification_id: int) -> Claim | None:
    """Take a due, pending notice for sending, spending one subscription grant.

    Without a grant the notice stays in the inbox only. Returns None when there is
    nothing to send (already handled, not yet due, or inbox only).
    """
    notice = db.session.execute(
        select(Notification).where(Notification.id == notification_id).with_for_update()
        .execution_options(populate_existing=True)).scalar_one_or_none()
    if notice is None or notice.status != NotificationStatus.PENDING or _not_due(notice):
        db.session.rollback()
        return None
    grant = _grant_for(notice)
    if grant is None:
        notice.status = NotificationStatus.INBOX_ONLY
        db.session.commit()
        return None
    grant.notification_id, grant.used_at = notice.id, now()
    notice.status, notice.claimed_at = NotificationStatus.SENDING, now()
    notice.attempts += 1
    result = Claim(openid=db.session.get(User, notice.user_id).openid,
                   template_id=current_app.config["TEMPLATE_IDS"][notice.template_key],
                   data=template_data(notice), page=notice.page)
    db.session.commit()
    return result


def _not_due(notice: Notification) -> bool:
    return notice.send_after is not None and notice.send_after > now() + CLOCK_TOLERANCE


def _grant_for(notice: Notification) -> SubscriptionGrant | None:
    """The grant this notice already holds (a retry), else the oldest unused one."""
    held = db.session.scalar(select(SubscriptionGrant).where(
        SubscriptionGrant.notification_id == notice.id))
    if held is not None:
        return held
    return db.session.scalar(
        select(SubscriptionGrant)
        .where(SubscriptionGrant.user_id == notice.user_id,
               SubscriptionGrant.template_key == notice.template_key,
               SubscriptionGrant.used_at.is_(None))
        .order_by(SubscriptionGrant.id).limit(1).with_for_update(skip_locked=True))


def record_sent(notification_id: int, msgid: int | None) -> None:
    notice = db.session.get(Notification, notification_id)
    notice.status, notice.sent_at, notice.msgid = NotificationStatus.SENT, now(), msgid
    notice.last_error = None
    db.session.commit()


def record_failure(notification_id: int, error: WeChatError) -> str:
    """Decide what a WeChat error means for the notice: inbox_only, retry or failed."""
    notice = db.session.get(Notification, notification_id)
    notice.last_error = f"{error.errcode}: {error.errmsg}"[:300]
    if error.errcode == TEMPLATE_NOT_HELD:
        template_id = current_app.config["TEMPLATE_IDS"].get(notice.template_key)
        notice.last_error = (f"{error.errcode}: {error.errmsg} — LINLI_TEMPLATE_"
                             f"{notice.template_key.upper()}={template_id}")[:300]
    intervals = current_app.config["NOTIFY_RETRY_INTERVALS"]
    if error.errcode == USER_REFUSED:
        outcome, notice.status = "inbox_only", NotificationStatus.INBOX_ONLY
    elif error.retryable and notice.attempts <= len(intervals):
        outcome, notice.status = "retry", NotificationStatus.PENDING
        notice.send_after = now() + timedelta(seconds=intervals[notice.attempts - 1])
    else:
        outcome, notice.status = "failed", NotificationStatus.FAILED
        _release_grant(notice)  # nothing was delivered: the grant can pay for a retry
    db.session.commit()
    return outcome


def _release_grant(notice: Notification) -> None:
    db.session.execute(update(SubscriptionGrant)
                       .where(SubscriptionGrant.notification_id == notice.id)
                       .values(notification_id=None, used_at=None))


def give_up_interrupted() -> int:
    """Sends interrupted past their lease: whether WeChat got them is unknown, so they end
    ``failed`` for staff to decide (a repeat could deliver twice). Returns how many."""
    lease = timedelta(seconds=current_app.config["NOTIFY_SEND_LEASE_S"])
    interrupted = db.session.execute(
        update(Notification)
        .where(Notification.status == NotificationStatus.SENDING,
               Notification.claimed_at < now() - lease)
        .values(status=NotificationStatus.FAILED,
                last_error="发送中断，微信是否收到未知；如需重发请由工作人员重试")
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return interrupted


def unqueued_due() -> list[tuple[int, datetime | None]]:
    """Pending notices nobody handed to RQ (Redis was down), or that RQ lost (queued
    ``OUTBOX_REQUEUE_AFTER_S`` ago and still pending: Redis restarted empty); younger ones
    are left to the request that wrote them. Handing over one RQ still holds is harmless:
    the row, not the job, decides what is sent. (id, send_after) pairs, oldest first."""
    current = now()
    lost_after = timedelta(seconds=current_app.config["OUTBOX_REQUEUE_AFTER_S"])
    due = db.session.execute(
        select(Notification.id, Notification.send_after)
        .where(Notification.status == NotificationStatus.PENDING,
               or_(Notification.queued_at.is_(None),
                   Notification.queued_at <= current - lost_after),
               Notification.created_at <= current - timedelta(
                   seconds=current_app.config["OUTBOX_SETTLE_S"]))
        .order_by(Notification.id).limit(5000)).all()
    db.session.rollback()
    return [(notification_id, send_after) for notification_id, send_after in due]


def remember_new_notice(session: Session, notification_id: int,
                        send_after: datetime | None) -> None:
    """Note a notice written in this session; the relay enqueues it after the commit."""
    session.info.setdefault(NEW_NOTICES, []).append((notification_id, send_after))


# Statuses the metrics count: the work still to do and what needs a person. Sent and
# inbox-only rows only grow; counting them would scan the table at every scrape.
WATCHED_STATUSES = (NotificationStatus.PENDING, NotificationStatus.SENDING,
                    NotificationStatus.FAILED)


def counts_by_status() -> dict[tuple[str, ...], float]:
    """Outbox rows per watched status (one grouped query on the outbox index)."""
    rows = db.session.execute(
        select(Notification.status, func.count()).where(
            Notification.status.in_(WATCHED_STATUSES)).group_by(Notification.status))
    counts = {(status.value,): 0.0 for status in WATCHED_STATUSES}
    counts.update({(NotificationStatus(status).value,): float(n) for status, n in rows})
    return counts
