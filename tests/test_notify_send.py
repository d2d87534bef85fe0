"""One send job run inline against the mock WeChat platform: what each WeChat refusal makes
of the notice (SPEC §9). The end-to-end paths through real workers are in
``test_notify_worker.py``."""

from __future__ import annotations

import pytest
import requests

from backend.extensions import db
from backend.notify.models import Notification, NotificationStatus, SubscriptionGrant
from backend.notify.services import notify
from backend.notify.tasks import send_notification


@pytest.fixture
def resident(make, mock_wx):
    person = make.user()
    # The platform knows every openid that ever logged in.
    requests.post(f"{mock_wx}/_mock/login-code", json={"openid": person.openid}, timeout=5)
    return person


def notice_for(app, make, person, key: str = "gift_ready") -> int:
    template_id = app.config["TEMPLATE_IDS"][key]
    response = make.call("POST", "/api/v1/me/subscriptions", person,
                         json={"template_ids": [template_id]})
    assert response.status_code == 201
    with app.app_context():
        notify(person.id, key, "您兑换的礼品已备好", dedupe_key=f"test:{person.id}:{key}")
        db.session.commit()
        return db.session.query(Notification.id).filter_by(user_id=person.id).scalar()


def test_a_template_id_the_mini_program_lacks_fails_loudly(app, make, resident, mock_wx,
                                                           monkeypatch, caplog):
    # A mistyped LINLI_TEMPLATE_GIFT_READY: well-formed, but not one of the app's templates.
    monkeypatch.setitem(app.config, "TEMPLATE_IDS",
                        {**app.config["TEMPLATE_IDS"], "gift_ready": "tmpl-gift-redy"})
    notice_id = notice_for(app, make, resident)
    with app.app_context():
        assert send_notification(notice_id) == "failed"
        notice = db.session.get(Notification, notice_id)
        assert notice.status == NotificationStatus.FAILED  # not inbox_only: staff see it
        assert notice.last_error.startswith("40037")
        assert "LINLI_TEMPLATE_GIFT_READY=tmpl-gift-redy" in notice.last_error
        grant = db.session.query(SubscriptionGrant).filter_by(user_id=resident.id).one()
        assert grant.used_at is None  # nothing was delivered: a retry can still use it
    assert any(r.levelname == "ERROR" and "40037" in r.getMessage() for r in caplog.records)
    assert requests.get(f"{mock_wx}/_mock/messages", params={"openid": resident.openid},
                        timeout=5).json()["items"] == []


def test_no_subscription_at_wechat_leaves_the_notice_in_the_inbox(app, make, resident):
    notice_id = notice_for(app, make, resident)  # granted to us, never at WeChat: 43101
    with app.app_context():
        assert send_notification(notice_id) == "inbox_only"
        assert db.session.get(Notification, notice_id).status == NotificationStatus.INBOX_ONLY


@pytest.mark.parametrize(("fmt", "kept"), [("string", True), ("missing", False)])
def test_a_sent_notice_keeps_whatever_msgid_wechat_gave(app, make, resident, mock_wx, fmt,
                                                       kept):
    notice_id = notice_for(app, make, resident)
    template_id = app.config["TEMPLATE_IDS"]["gift_ready"]
    requests.post(f"{mock_wx}/_mock/subscribe", timeout=5,
                  json={"openid": resident.openid, "template_id": template_id})
    requests.post(f"{mock_wx}/_mock/msgid-format", json={"format": fmt}, timeout=5)
    with app.app_context():
        assert send_notification(notice_id) == "sent"
        notice = db.session.get(Notification, notice_id)
        assert notice.status == NotificationStatus.SENT
        msgid = notice.msgid
    [message] = requests.get(f"{mock_wx}/_mock/messages", params={"openid": resident.openid},
                             timeout=5).json()["items"]
    assert msgid == (message["msgid"] if kept else None)
