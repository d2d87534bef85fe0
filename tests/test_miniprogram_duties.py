"""Separation of duties in the mini-program pages (issue 14): duty check-in sends the phone's
location (wx.getLocation) and is refused in Chinese away from the post; staff approving
hours they signed off themselves read the four-eyes refusal; the 操作记录 page shows who
did what."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from backend.common.clock import now
from backend.extensions import db
from backend.parking.models import Assignment
from tests.browser import phone, seat
from tests.parking_helpers import AWAY, POST, parking_team, roster, tomorrow

GEO = {"permissions": ["geolocation"]}


def on_duty_now(app, make, world):
    """A parking team whose member holds a shift that is on right now."""
    p = parking_team(make, world, members=1,
                     shifts=[{"name": "早班", "start": "07:00", "end": "15:00", "needed": 1}])
    body = roster(make, p, tomorrow(), tomorrow())
    with app.app_context():
        shift = db.session.get(Assignment, body["assignments"][0]["id"])
        shift.user_id = p.members[0].id
        shift.starts_at, shift.ends_at = now() - timedelta(hours=1), now() + timedelta(hours=6)
        db.session.commit()
    code = make.call("GET", f"/api/v1/teams/{p.team}/post-code", p.leader).json["code"]
    return p, code


def scan_typed(device, text: str) -> None:
    scanner = device.by("scanner")
    scanner.locator("[data-role=manual]").fill(text)
    scanner.get_by_text("确定").click()


def test_duty_check_in_sends_the_phones_location_and_is_refused_away_from_the_post(
        app, browser, site, make, world):
    p, code = on_duty_now(app, make, world)
    member = p.members[0]
    with phone(browser, site, geolocation=AWAY, **GEO) as device:
        device.login(member.openid).open("/duty")
        device.by("duty-checkin").click()
        scan_typed(device, code)
        expect(device.by("error")).to_contain_text("您不在岗亭附近")
    with phone(browser, site, geolocation=POST, **GEO) as device:
        device.login(member.openid).open("/duty")
        device.by("duty-checkin").click()
        scan_typed(device, code)
        expect(device.page.locator("#toast")).to_contain_text("值班签到成功")
        expect(device.page.locator("[data-testid^=shift-]").first).to_contain_text(
            "已签到，待队长确认")
        device.shot("duty-checkin")
    shifts = make.call("GET", "/api/v1/me/shifts", member).json["items"]
    assert [s["status"] for s in shifts] == ["completed"]


def test_staff_see_the_four_eyes_refusal_and_the_audit_trail(app, browser, site, make, world):
    """staff_a signs off as the team's leader too; approving it is a colleague's job."""
    make.call("POST", f"/api/v1/teams/{world.team_a}/members", world.staff_a,
              json={"user_id": world.staff_a.id, "role": "leader"})
    activity = make.activity(world.team_a, title="楼道义务清扫",
                             starts_at=now() - timedelta(minutes=100),
                             ends_at=now() - timedelta(minutes=10))
    seat(app, activity, world.resident_a)
    for direction in ("in", "out"):
        code = make.call("GET", "/api/v1/me/checkin-code", world.resident_a).json["code"]
        make.call("POST", f"/api/v1/activities/{activity}/scans", world.leader_a, json={
            "code": code, "direction": direction, "scan_id": f"{direction}-1"})
    [row] = make.call("GET", f"/api/v1/activities/{activity}/attendances",
                      world.leader_a).json["items"]
    assert make.call("PATCH", f"/api/v1/attendances/{row['id']}", world.leader_a,
                     json={"minutes": 60, "reason": "扫码机离线"}).status_code == 200
    assert make.call("POST", f"/api/v1/activities/{activity}/attendances/confirm",
                     world.staff_a).status_code == 200
    with phone(browser, site) as staff:
        staff.login(world.staff_a.openid)
        staff.open_work("approvals")
        expect(staff.by(f"approve-box-{world.resident_a.id}")).to_be_checked()
        staff.by("approve-selected").click()
        expect(staff.by("error")).to_contain_text("须由两位不同的人确认和审批")
    colleague = make.staff(world.a)
    with phone(browser, site) as staff:
        staff.login(colleague.openid)
        staff.open_work("approvals")
        expect(staff.by(f"approve-box-{world.resident_a.id}")).to_be_checked()
        staff.by("approve-selected").click()
        expect(staff.page.get_by_text("没有待审核的服务时长")).to_be_visible()
        staff.open_work("audit")
        trail = staff.page.locator("[data-testid^=audit-entry-]").filter(has_text="审核服务时长")
        expect(trail.first).to_contain_text("修改后：points=")
        expect(staff.page.locator("[data-testid^=audit-entry-]").filter(
            has_text="确认服务时长").first).to_be_visible()
        staff.shot("staff-audit")
    assert make.call("GET", "/api/v1/me/points", world.resident_a).json["balance"] == 10
