"""From the door to points: no-shows, the leader's sign-off, staff approval crediting points
exactly once under the community's rules (SPEC §5, §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine

from backend.common.clock import LOCAL_TZ  # noqa: E402
from backend.communities.models import Community
from backend.extensions import db
from backend.notify.models import Notification
from backend.points.models import Transfer
from tests.checkin_support import personal_code, scan
from tests.conftest import all_at_once

# 09:00 local, three days ahead: the daily cap test needs two activities on one local day.
START = (datetime.now(LOCAL_TZ) + timedelta(days=3)).replace(
    hour=9, minute=0, second=0, microsecond=0).astimezone(UTC)


def attend(app, make, leader, activity, resident, starts, minutes):
    with time_machine.travel(starts, tick=False) as traveller:
        scan(make, leader, activity, personal_code(app, resident.id))
        traveller.shift(timedelta(minutes=minutes))
        return scan(make, leader, activity, personal_code(app, resident.id),
                    "out").get_json()["attendance"]


def signed_up(make, world, starts=START, hours=2, **fields):
    activity = make.activity(world.team_a, starts_at=starts,
                             ends_at=starts + timedelta(hours=hours), **fields)
    assert make.call("POST", f"/api/v1/activities/{activity}/signups",
                     world.resident_a).status_code == 201
    return activity


def after(activity_start, hours=3):
    return time_machine.travel(activity_start + timedelta(hours=hours), tick=False)


def confirm(make, who, activity):
    return make.call("POST", f"/api/v1/activities/{activity}/attendances/confirm", who)


def approve(make, who, ids):
    return make.call("POST", "/api/v1/attendances/approve", who, json={"ids": ids})


def balance(make, who):
    return make.call("GET", "/api/v1/me/points", who).get_json()["balance"]


@pytest.fixture
def confirmed(app, make, world):
    """resident_a served 90 minutes of a confirmed activity; the clock after its end."""
    activity = signed_up(make, world)
    attendance = attend(app, make, world.leader_a, activity, world.resident_a, START, 90)
    with after(START):
        assert confirm(make, world.leader_a, activity).status_code == 200
        yield activity, attendance["id"]


def test_confirm_waits_for_the_end_of_the_activity(app, make, world):
    activity = signed_up(make, world)
    with time_machine.travel(START + timedelta(minutes=10), tick=False):
        response = confirm(make, world.leader_a, activity)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "activity_not_ended"


def test_confirm_is_refused_while_someone_has_no_exit_until_the_leader_fixes_it(
        app, make, world):
    activity = signed_up(make, world)
    with time_machine.travel(START, tick=False):
        row = scan(make, world.leader_a, activity,
                   personal_code(app, world.resident_a.id)).get_json()["attendance"]
    with after(START):
        refused = confirm(make, world.leader_a, activity)
        assert refused.status_code == 409
        assert refused.get_json()["error"] == {
            "code": "checkout_missing", "message": refused.get_json()["error"]["message"],
            "details": {"attendance_ids": [row["id"]]}}
        make.call("PATCH", f"/api/v1/attendances/{row['id']}", world.leader_a,
                  json={"minutes": 100, "reason": "忘记签退"})
        items = confirm(make, world.leader_a, activity).get_json()["items"]
    assert [(i["status"], i["minutes"]) for i in items] == [("confirmed", 100)]


def test_signed_up_residents_who_never_came_are_no_shows(app, make, world):
    activity = signed_up(make, world)
    with after(START):
        items = make.call("GET", f"/api/v1/activities/{activity}/attendances",
                          world.leader_a).get_json()["items"]
        assert [(i["user_id"], i["status"], i["display_name"]) for i in items] == [
            (world.resident_a.id, "no_show", "张*明")]
        mine = make.call("GET", "/api/v1/me/signups", world.resident_a).get_json()["items"]
    assert mine[0]["status"] == "no_show"


def test_a_late_offline_entry_undoes_the_no_show(app, make, world):
    activity = signed_up(make, world)
    code, scanned_at = personal_code(app, world.resident_a.id, START), START
    with after(START):
        make.call("GET", f"/api/v1/activities/{activity}/attendances", world.leader_a)
        answer = scan(make, world.leader_a, activity, code, scanned_at=scanned_at).get_json()
        mine = make.call("GET", "/api/v1/me/signups", world.resident_a).get_json()["items"]
    assert answer["result"] == "ok" and answer["attendance"]["status"] == "open"
    assert mine[0]["status"] == "confirmed"


@pytest.mark.parametrize("who, status", [("staff_a", 200), ("leader_a2", 403),
                                         ("leader_b", 404), ("resident_a", 403)])
def test_only_the_team_leader_or_staff_confirm(app, make, world, who, status):
    activity = signed_up(make, world)
    with after(START):
        assert confirm(make, getattr(world, who), activity).status_code == status


def test_staff_approval_credits_points_once_with_a_notice(app, make, world, confirmed):
    activity, attendance_id = confirmed
    first = approve(make, world.staff_a, [attendance_id])
    again = approve(make, world.staff_a, [attendance_id])
    assert first.status_code == again.status_code == 200
    assert first.get_json()["items"][0]["status"] == "approved"
    assert first.get_json()["items"][0]["points"] == 15  # 90 min at 10 points an hour
    assert balance(make, world.resident_a) == 15
    entry = make.call("GET", "/api/v1/me/points/entries",
                      world.resident_a).get_json()["items"][0]
    assert (entry["amount"], entry["reason"], entry["ref"]) == (
        15, "service", f"attendance:{attendance_id}")
    with app.app_context():
        assert db.session.query(Transfer).filter_by(reason="service").count() == 1
        assert db.session.query(Notification).filter_by(
            user_id=world.resident_a.id, template_key="points_credited").count() == 1


def test_reconciliation_finds_every_service_credit_backed_by_its_attendance(
        app, make, world, confirmed):
    _, attendance_id = confirmed
    approve(make, world.staff_a, [attendance_id])
    today = datetime.now(LOCAL_TZ).date()
    query = {"from": (today - timedelta(days=30)).isoformat(),
             "to": (today + timedelta(days=30)).isoformat()}
    url = f"/api/v1/communities/{world.a}/points/reconciliation"
    checks = {c["name"]: c["ok"] for c in make.call(
        "GET", url, world.staff_a, query_string=query).get_json()["checks"]}
    assert checks["service_transfers_have_approved_attendances"] is True
    assert checks["period_identity"] is True


def test_leaders_cannot_approve_and_other_communities_see_nothing(app, make, world, confirmed):
    _, attendance_id = confirmed
    assert approve(make, world.leader_a, [attendance_id]).status_code == 403
    assert approve(make, world.resident_a, [attendance_id]).status_code == 403
    hidden = approve(make, world.staff_b, [attendance_id])
    assert hidden.status_code == 404
    assert approve(make, world.staff_a, [attendance_id, 999_999]).status_code == 404
    assert balance(make, world.resident_a) == 0


def test_unconfirmed_hours_cannot_be_approved(app, make, world):
    activity = signed_up(make, world)
    row = attend(app, make, world.leader_a, activity, world.resident_a, START, 60)
    response = approve(make, world.staff_a, [row["id"]])
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "attendance_not_confirmed"


def test_approved_hours_are_locked_and_rejected_ones_earn_nothing(app, make, world, confirmed):
    activity, attendance_id = confirmed
    make.resident(world.a, "李小龙")
    approve(make, world.staff_a, [attendance_id])
    locked = make.call("PATCH", f"/api/v1/attendances/{attendance_id}", world.leader_a,
                       json={"minutes": 500, "reason": "多算点"})
    assert locked.status_code == 409
    assert locked.get_json()["error"]["code"] == "attendance_locked"
    refused = make.call("POST", "/api/v1/attendances/reject", world.staff_a,
                        json={"ids": [attendance_id], "reason": "重复"})
    assert refused.status_code == 409


def test_rejection_keeps_the_reason_and_credits_nothing(app, make, world, confirmed):
    _, attendance_id = confirmed
    rejected = make.call("POST", "/api/v1/attendances/reject", world.staff_a,
                         json={"ids": [attendance_id], "reason": "未实际参加"})
    assert rejected.get_json()["items"][0]["status"] == "rejected"
    assert approve(make, world.staff_a, [attendance_id]).status_code == 409
    assert balance(make, world.resident_a) == 0


def test_activity_rate_overrides_the_community_rate_and_rounds_down(app, make, world):
    activity = signed_up(make, world, points_per_hour=7)
    row = attend(app, make, world.leader_a, activity, world.resident_a, START, 50)
    with after(START):
        confirm(make, world.leader_a, activity)
        items = approve(make, world.staff_a, [row["id"]]).get_json()["items"]
    assert items[0]["points"] == 5  # 50 * 7 / 60 = 5.83 → 5


def test_daily_cap_limits_service_points_per_resident_per_day(app, make, world):
    with app.app_context():
        db.session.get(Community, world.a).daily_points_cap = 25
        db.session.commit()
    morning = signed_up(make, world)
    afternoon = signed_up(make, world, starts=START + timedelta(hours=4))
    rows = [attend(app, make, world.leader_a, morning, world.resident_a, START, 120),
            attend(app, make, world.leader_a, afternoon, world.resident_a,
                   START + timedelta(hours=4), 120)]
    with after(START, hours=7):
        confirm(make, world.leader_a, morning)
        confirm(make, world.leader_a, afternoon)
        items = approve(make, world.staff_a, [r["id"] for r in rows]).get_json()["items"]
    assert [i["points"] for i in items] == [20, 5]
    assert balance(make, world.resident_a) == 25


def test_staff_work_list_shows_confirmed_hours(app, make, world, confirmed):
    _, attendance_id = confirmed
    listed = make.call("GET", f"/api/v1/communities/{world.a}/attendances?status=confirmed",
                       world.staff_a).get_json()
    assert [(i["id"], i["display_name"]) for i in listed["items"]] == [(attendance_id, "张三明")]
    assert make.call("GET", f"/api/v1/communities/{world.a}/attendances",
                     world.leader_a).status_code == 403


def test_concurrent_approvals_credit_once(app, make, world, confirmed, served):
    _, attendance_id = confirmed

    def call():
        return requests.post(f"{served}/attendances/approve", json={"ids": [attendance_id]},
                             headers=world.staff_a.headers, timeout=60).status_code
    assert set(all_at_once([call] * 10)) == {200}
    assert balance(make, world.resident_a) == 15
    with app.app_context():
        assert db.session.query(Transfer).filter_by(reason="service").count() == 1
