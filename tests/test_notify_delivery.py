"""Quiet hours and template data limits (SPEC §9)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from backend.common.clock import LOCAL_TZ, now
from backend.extensions import db
from backend.notify.delivery import send_after, template_data
from backend.notify.models import Notification
from backend.notify.outbox import unqueued_due


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


@pytest.mark.parametrize("at, expected", [
    ("2026-12-01T21:59", None),
    ("2026-12-01T22:00", "2026-12-02T07:00"),
    ("2026-12-01T23:30", "2026-12-02T07:00"),
    ("2026-12-02T03:00", "2026-12-02T07:00"),
    ("2026-12-02T06:59", "2026-12-02T07:00"),
    ("2026-12-02T07:00", None),
])
def test_quiet_hours_delay_non_urgent_notices(at, expected):
    result = send_after("signup_confirmed", local(at), "22:00-07:00")
    assert result == (local(expected) if expected else None)


def test_urgent_notices_ignore_quiet_hours():
    assert send_after("activity_cancelled", local("2026-12-01T23:30"), "22:00-07:00") is None


def test_daytime_quiet_window():
    assert send_after("gift_ready", local("2026-12-01T12:30"), "12:00-14:00") == \
        local("2026-12-01T14:00")


def test_template_data_fits_wechat_limits():
    notice = Notification(title="报名成功通知", body="您已成功报名「" + "很长的活动名称" * 5 + "」",
                          data={"at": "2026-12-01T09:00:00+08:00"},
                          created_at=local("2026-11-30T10:00"))
    data = template_data(notice)
    assert len(data["thing1"]) == 20 and data["thing1"].endswith("…")
    assert data["time2"] == "2026年12月01日 09:00"
    assert data["thing3"] == "报名成功通知"


def test_a_notice_is_enqueued_when_its_transaction_commits_not_at_a_savepoint(
        app, make, world, redis_url):
    """A savepoint inside the use case (opening an account, say) is not its commit: the
    notice is relayed to RQ once, after the outer commit."""
    from rq import Queue
    from sqlalchemy import select

    from backend.common.connections import redis_connection
    from backend.extensions import db
    from backend.notify.services import notify

    with app.app_context():
        queues = [Queue(name, connection=redis_connection()) for name in ("linli", "linli-high")]
        notify(world.resident_a.id, "signup_confirmed", "测试", dedupe_key="savepoint")
        with db.session.begin_nested():
            pass
        assert sum(queue.count for queue in queues) == 0
        db.session.commit()
        assert sum(queue.count for queue in queues) == 1
        queued = db.session.scalar(select(Notification.queued_at).where(
            Notification.dedupe_key == "savepoint"))
        assert queued is not None


def test_a_notice_rq_lost_is_handed_over_again_after_the_requeue_time(app, world):
    """Redis restarted empty: a row queued long ago is pending still, and only the drain
    knows; one queued a moment ago is RQ's to send."""
    app.config["OUTBOX_SETTLE_S"] = 0
    app.config["OUTBOX_REQUEUE_AFTER_S"] = 60
    with app.app_context():
        rows = [Notification(user_id=world.resident_a.id, template_key="signup_confirmed",
                             title="报名成功", body="测试", dedupe_key=f"requeue-{age}",
                             queued_at=now() - timedelta(seconds=age),
                             created_at=now() - timedelta(seconds=age))
                for age in (61, 59)]
        db.session.add_all(rows)
        db.session.commit()
        due = {notification_id for notification_id, _ in unqueued_due()}
        assert rows[0].id in due and rows[1].id not in due
