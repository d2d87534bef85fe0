"""Notices raised by sign-ups land in the inbox; template ids come from settings (SPEC §9)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.notify.models import Notification
from backend.notify.services import notify

TEMPLATE_KEYS = ["signup_confirmed", "waitlist_promoted", "activity_reminder",
                 "activity_cancelled", "points_credited", "gift_ready", "roster_published",
                 "shift_reminder", "swap_request", "need_update", "evaluation_invite"]


def test_templates_list_every_key_with_its_configured_id(app, make, world, monkeypatch):
    monkeypatch.setitem(app.config, "TEMPLATE_IDS",
                        {**app.config["TEMPLATE_IDS"], "gift_ready": "tmpl-from-env"})
    items = make.call("GET", "/api/v1/notifications/templates", world.resident_a).json["items"]
    assert [item["key"] for item in items] == TEMPLATE_KEYS
    assert {i["key"]: i["template_id"] for i in items}["gift_ready"] == "tmpl-from-env"
    assert all(item["title"] for item in items)


def test_signup_notice_lands_in_the_inbox_and_can_be_read(make, world):
    aid = make.activity(world.team_a, title="义务理发")
    make.call("POST", f"/api/v1/activities/{aid}/signups", world.resident_a)
    inbox = make.call("GET", "/api/v1/me/notifications", world.resident_a).json
    assert inbox["total"] == 1
    notice = inbox["items"][0]
    assert notice["template_key"] == "signup_confirmed"
    assert "义务理发" in notice["body"] and notice["read_at"] is None
    assert notice["page"] == f"pages/activity/detail?id={aid}"
    read = make.call("POST", f"/api/v1/me/notifications/{notice['id']}/read", world.resident_a)
    assert read.status_code == 200 and read.json["read_at"] is not None
    again = make.call("POST", f"/api/v1/me/notifications/{notice['id']}/read", world.resident_a)
    assert again.json["read_at"] == read.json["read_at"]
    assert make.call("GET", "/api/v1/me/notifications", world.leader_a).json["total"] == 0


@pytest.mark.postgres_only
def test_two_writers_of_the_same_event_write_one_notice_and_neither_fails(app, world):
    """Two workers' overlapping reminder runs notify the same resident of the same event:
    the dedupe key's unique index keeps one notice, and the second writer just skips it."""
    barrier = threading.Barrier(2)
    written: list[int] = []
    failures: list[BaseException] = []

    def write() -> None:
        with app.app_context():
            try:
                barrier.wait(10)
                written.append(notify(world.resident_a.id, "activity_reminder", "提醒",
                                      dedupe_key="activity_reminder:race:1h"))
                time.sleep(0.3)  # both transactions open at once: the other must wait
                db.session.commit()
            except BaseException as error:  # noqa: BLE001 (reported below)
                failures.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=write) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert sorted(written) == [0, 1]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.dedupe_key == "activity_reminder:race:1h")) == 1
