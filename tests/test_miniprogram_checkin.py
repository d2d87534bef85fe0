"""Check-in in the mini-program pages: wx.scanCode with jsQR (fake camera, photo, typed),
the live QR, the leader's scan page, attendance, hours approval crediting points."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from backend.common.clock import now
from tests.browser import (
    camera_args,
    camera_file,
    launch,
    phone,
    qr_png,
    seat,
)


def qr_on_screen(resident) -> bytes:
    """What the resident's phone shows: a screenshot of the live QR, once it has loaded."""
    qr = resident.by("checkin-qr")
    expect(qr).to_have_js_property("complete", True)
    expect(qr).not_to_have_js_property("naturalWidth", 0)  # decoded (no eval: the CSP)
    return qr.screenshot()


def test_wx_scan_code_decodes_a_qr_from_the_camera_with_jsqr(
        playwright_driver, site, make, world, tmp_path):
    text = "LINLI-TEST-扫码-0001"
    video = camera_file(qr_png(text), tmp_path / "camera.y4m")
    camera_browser = launch(playwright_driver, *camera_args(video))
    try:
        with phone(camera_browser, site) as leader:
            leader.login(world.leader_a.openid)
            result = leader.page.evaluate("wx.scanCode({}).then((r) => r.result)")
            assert result == text
            expect(leader.by("scanner")).to_have_count(0)  # the scanner closed itself
    finally:
        camera_browser.close()


def test_wx_scan_code_decodes_a_photo_with_jsqr_or_takes_typed_text(
        browser, site, make, world, tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(qr_png("LINLI-PHOTO-0002"))
    with phone(browser, site) as leader:
        leader.login(world.leader_a.openid)
        leader.page.evaluate("() => { window.scanned = wx.scanCode({}).then((r) => r.result); }")
        leader.by("scanner").locator("[data-role=photo]").set_input_files(photo)
        assert leader.page.evaluate("window.scanned") == "LINLI-PHOTO-0002"
        leader.page.evaluate("() => { window.scanned = wx.scanCode({}).then((r) => r.result); }")
        leader.by("scanner").locator("[data-role=manual]").fill("LINLI-TYPED-0003")
        leader.by("scanner").get_by_text("确定").click()
        assert leader.page.evaluate("window.scanned") == "LINLI-TYPED-0003"


def test_checkin_code_is_fetched_again_after_refresh_in_s(browser, site, make, world):
    with phone(browser, site) as resident:
        resident.page.clock.install()  # the page's timers run on a clock the test moves
        resident.login(world.resident_a.openid)
        resident.by("tab-code").click()
        qr = resident.by("checkin-qr")
        expect(qr).to_have_attribute("src", re.compile("^blob:"))
        first = qr.get_attribute("src")
        refresh_in_s = make.call("GET", "/api/v1/me/checkin-code", world.resident_a).json[
            "refresh_in_s"]
        assert 0 < refresh_in_s <= 61
        with resident.page.expect_request(re.compile(r"/me/checkin-code\.png$")):
            resident.page.clock.run_for((refresh_in_s + 1) * 1000)
        expect(qr).not_to_have_attribute("src", first)


def test_leader_scan_page_checks_the_resident_in_from_the_residents_real_qr(
        app, playwright_driver, browser, site, make, world, tmp_path):
    activity = make.activity(world.team_a, title="社区清洁日",
                             starts_at=now() - timedelta(minutes=10))
    seat(app, activity, world.resident_a)
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid)
        resident.by("tab-code").click()
        shown = qr_on_screen(resident)
        resident.shot("checkin-code")
    camera = launch(playwright_driver, *camera_args(camera_file(shown, tmp_path / "qr.y4m")))
    try:
        with phone(camera, site) as leader:
            leader.login(world.leader_a.openid)
            leader.open_work("leader-activities")
            expect(leader.by(f"managed-{activity}")).to_contain_text("社区清洁日")
            leader.shot("leader-activities")
            leader.by(f"scan-{activity}").click()
            leader.by("scan-button").click()  # the fake camera films the resident's screen
            result = leader.by("scan-result")
            expect(result).to_have_attribute("data-result", "ok")
            expect(result).to_contain_text("签到成功")
            expect(result).to_contain_text("张*明")
            leader.shot("leader-scan-ok")
    finally:
        camera.close()
    rows = make.call("GET", f"/api/v1/activities/{activity}/attendances", world.leader_a).json
    assert [(a["user_id"], a["status"]) for a in rows["items"]] == [(world.resident_a.id, "open")]
    assert rows["items"][0]["checked_in_at"] is not None


def test_scan_page_words_for_a_second_scan_and_a_forged_code(app, browser, site, make, world,
                                                             tmp_path):
    """No camera on this phone: the photo and typed fallbacks, and §5's result words."""
    activity = make.activity(world.team_a, starts_at=now() - timedelta(minutes=10))
    seat(app, activity, world.resident_a)
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid)
        resident.by("tab-code").click()
        photo = tmp_path / "photo.png"
        photo.write_bytes(qr_on_screen(resident))
    with phone(browser, site) as leader:
        leader.login(world.leader_a.openid).open(f"/leader/scan/{activity}")
        result = leader.by("scan-result")
        for expected in ("ok", "already_in"):
            leader.by("scan-button").click()
            leader.by("scanner").locator("[data-role=photo]").set_input_files(photo)
            expect(result).to_have_attribute("data-result", expected)
        expect(result).to_contain_text("已经签到过了")
        leader.by("scan-button").click()
        leader.by("scanner").locator("[data-role=manual]").fill("LQ1.forged.code")
        leader.by("scanner").get_by_text("确定").click()
        expect(result).to_have_attribute("data-result", "invalid_code")
        expect(result).to_contain_text("无效的签到码")
        leader.shot("leader-scan-invalid")
        leader.by("direction-out").click()
        leader.by("scan-button").click()
        leader.by("scanner").locator("[data-role=photo]").set_input_files(photo)
        expect(result).to_have_attribute("data-result", "ok")
        expect(result).to_contain_text("签退成功")


def scan_via_api(make, leader, resident, activity, direction):
    code = make.call("GET", "/api/v1/me/checkin-code", resident).json["code"]
    answer = make.call("POST", f"/api/v1/activities/{activity}/scans", leader, json={
        "code": code, "direction": direction, "scan_id": f"{direction}-{resident.id}"}).json
    assert answer["result"] == "ok", answer


def test_staff_approve_hours_and_the_residents_points_go_up(app, browser, site, make, world):
    """The leader scanned late: corrects the minutes with a reason, confirms; staff approve."""
    activity = make.activity(world.team_a, title="老年人智能手机课堂", points_per_hour=10,
                             starts_at=now() - timedelta(minutes=100),
                             ends_at=now() - timedelta(minutes=10))
    seat(app, activity, world.resident_a)
    scan_via_api(make, world.leader_a, world.resident_a, activity, "in")
    scan_via_api(make, world.leader_a, world.resident_a, activity, "out")
    with phone(browser, site) as leader:
        leader.login(world.leader_a.openid).open(f"/leader/attendance/{activity}")
        row = leader.by(f"attendance-row-{world.resident_a.id}")
        expect(row).to_contain_text("张*明")
        row.get_by_text("修改时长").click()
        row.locator("input[type=number]").fill("90")
        row.get_by_text("保存修改").click()  # no reason given: the 422's Chinese field message
        expect(row.get_by_test_id("error")).to_have_text("提交的内容有误：不能为空")
        row.get_by_placeholder("修改原因（必填）").fill("签到机离线，按实际服务一个半小时")
        row.get_by_text("保存修改").click()
        expect(leader.by(f"attendance-row-{world.resident_a.id}")).to_contain_text("90 分钟")
        leader.by("confirm-attendance").click()
        expect(leader.by(f"attendance-row-{world.resident_a.id}")).to_contain_text("队长已确认")
        leader.shot("leader-attendance")
    with phone(browser, site) as staff:
        staff.login(world.staff_a.openid)
        staff.open_work("approvals")
        expect(staff.by(f"approve-box-{world.resident_a.id}")).to_be_checked()
        staff.shot("staff-approvals")
        staff.by("approve-selected").click()
        expect(staff.page.get_by_text("没有待审核的服务时长")).to_be_visible()
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid).open("/points")
        expect(resident.by("points-balance")).to_have_text("15")
        expect(resident.by("statement")).to_contain_text("志愿服务")
        resident.open("/record")
        expect(resident.by("record-hours")).to_have_text("1.5")
        expect(resident.by("volunteer-record")).to_contain_text("老年人智能手机课堂")
        resident.shot("volunteer-record")
    assert make.call("GET", "/api/v1/me/points", world.resident_a).json["balance"] == 15
