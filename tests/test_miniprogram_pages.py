"""The mini-program pages (SPEC §1) in a real headless Chromium against a served app."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from backend.activities.models import Activity, Signup
from backend.common.clock import now
from backend.extensions import db
from tests.browser import camera_args, camera_file, launch, phone, qr_png


@pytest.fixture(scope="session")
def playwright_driver():
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver):
    browser = launch(playwright_driver)
    yield browser
    browser.close()


@pytest.fixture
def site(served, mock_wx) -> str:
    return served.removesuffix("/api/v1")


def sign_up(make, person, activity_id):
    response = make.call("POST", f"/api/v1/activities/{activity_id}/signups", person)
    assert response.status_code in (200, 201), response.json
    return response.json


def seat(app, activity_id, person):
    """A confirmed seat on an activity that has already started (sign-up is closed by then)."""
    with app.app_context():
        signup = Signup(activity_id=activity_id, user_id=person.id)
        signup.confirm()
        db.session.add(signup)
        db.session.get(Activity, activity_id).confirmed_count += 1
        db.session.commit()


def test_pages_are_served_beside_the_api(site):
    page = requests.get(f"{site}/mp/", timeout=5)
    assert page.status_code == 200 and "邻里" in page.text
    config = requests.get(f"{site}/mp/config.json", timeout=5).json()
    assert config["api_base"] == "/api/v1" and config["wechat_api_base"].startswith("http")
    jsqr = requests.get(f"{site}/mp/vendor/jsQR.js", timeout=5)
    assert jsqr.status_code == 200 and "jsQR" in jsqr.text
    assert requests.get(f"{site}/mp/vendor/jsQR.LICENSE", timeout=5).ok
    missing = requests.get(f"{site}/mp/nothing-here.js", timeout=5)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_pages_stay_inside_their_folder(client):
    for path in ("/mp/..%2Fbackend%2Fconfig.py", "/mp/%2e%2e/pyproject.toml"):
        response = client.get(path)
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_production_does_not_serve_the_mock_pages(database_url, redis_server_url, monkeypatch):
    from backend import config, create_app

    # The secrets production demands are test_config's business; here only the pages.
    monkeypatch.setattr(config, "_refuse_dev_secrets_in_production", lambda settings: None)
    app = create_app({"LINLI_ENV": "production", "SQLALCHEMY_DATABASE_URI": database_url,
                      "REDIS_URL": redis_server_url})
    response = app.test_client().get("/mp/")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_resident_signs_up_for_a_full_activity_and_sees_the_waitlist_position(
        browser, site, make, world):
    activity = make.activity(world.team_a, title="老年人智能手机课堂", capacity=1)
    sign_up(make, make.resident(world.a, "李秀英"), activity)
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid)
        expect(resident.by(f"activity-{activity}")).to_contain_text("名额已满")
        resident.shot("activities")
        resident.by(f"activity-{activity}").click()
        expect(resident.by("activity-title")).to_have_text("老年人智能手机课堂")
        resident.by("signup").click()
        expect(resident.by("my-signup")).to_have_text("名额已满，你在候补第 1 位")
        resident.shot("activity-waitlisted")
        assert make.call("GET", f"/api/v1/activities/{activity}", world.resident_a).json[
            "my_signup"]["waitlist_position"] == 1
        resident.open("/activities")
        expect(resident.by(f"activity-{activity}")).to_contain_text("候补第 1 位")
        resident.by(f"activity-{activity}").click()
        resident.by("cancel-signup").click()
        expect(resident.by("my-signup")).to_have_text("你还没有报名")
    mine = make.call("GET", f"/api/v1/activities/{activity}", world.resident_a).json
    assert mine["my_signup"] is None or mine["my_signup"]["status"] == "cancelled"


def test_a_refusal_shows_the_envelopes_chinese_message(browser, site, make, world):
    activity = make.activity(world.team_a, title="垃圾分类宣传",
                             signup_closes_at=now() - timedelta(minutes=1))
    refusal = make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_a)
    assert refusal.status_code == 409 and refusal.json["error"]["code"] == "signup_closed"
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid).open(f"/activity/{activity}")
        resident.by("signup").click()
        error = resident.by("error")
        expect(error).to_have_text(refusal.json["error"]["message"])  # 报名已截止
        resident.shot("refusal")
        assert "signup_closed" not in resident.page.inner_text("body")


def test_outsider_pages_show_chinese_refusals_not_raw_errors(browser, site, make, world):
    """A user of another community opening an activity gets the 404 envelope's words."""
    activity = make.activity(world.team_a)
    expected = make.call("GET", f"/api/v1/activities/{activity}", world.resident_b).json
    with phone(browser, site) as outsider:
        outsider.login(world.resident_b.openid).open(f"/activity/{activity}")
        expect(outsider.by("error")).to_have_text(expected["error"]["message"])


def test_points_page_shows_an_approved_adjustment_and_staff_see_the_reconciliation(
        browser, site, make, world):
    second = make.staff(world.a)
    adjustment = make.call("POST", f"/api/v1/communities/{world.a}/points/adjustments",
                           world.staff_a, json={"user_id": world.resident_a.id, "amount": 25,
                                                "reason": "补录三月服务"}).json
    make.call("POST", f"/api/v1/points/adjustments/{adjustment['id']}/approve", second)
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid).open("/points")
        expect(resident.by("points-balance")).to_have_text("25")
        expect(resident.by("statement")).to_contain_text("人工调整")
        resident.shot("points")
        resident.open("/me")
        expect(resident.by("me-balance")).to_have_text("25")
        assert "null" not in resident.page.inner_text("#page")
        resident.shot("me")
    with phone(browser, site) as staff:
        staff.login(world.staff_a.openid)
        staff.by("tab-work").click()
        staff.shot("staff-work")
        staff.by("work-reconciliation").click()
        expect(staff.by("reconciliation-chart")).to_be_visible()
        expect(staff.by("reconciliation-table")).to_contain_text("25")
        expect(staff.by("reconciliation-check").first).to_be_visible()
        staff.shot("staff-reconciliation")


def test_inbox_lists_the_sign_up_notice_and_subscribing_records_grants(
        browser, site, make, world):
    activity = make.activity(world.team_a, title="社区清洁日")
    sign_up(make, world.resident_a, activity)
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid).open("/inbox")
        expect(resident.page.locator("[data-testid^=notice-]").first).to_contain_text("社区清洁日")
        resident.shot("inbox")
        resident.by("subscribe-all").click()
        resident.by("subscribe-dialog").get_by_text("允许").click()
        expect(resident.page.locator("#toast")).to_contain_text("已订阅 9 条通知")
    grants = make.call("GET", "/api/v1/me/subscriptions", world.resident_a).json["items"]
    assert {g["key"] for g in grants if g["available"] >= 1} >= {"signup_confirmed", "gift_ready"}


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


def qr_on_screen(resident) -> bytes:
    """What the resident's phone shows: a screenshot of the live QR, once it has loaded."""
    qr = resident.by("checkin-qr")
    expect(qr).to_have_js_property("complete", True)
    resident.page.wait_for_function(
        "document.querySelector('[data-testid=checkin-qr]').naturalWidth > 0")
    return qr.screenshot()


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
            leader.by("tab-work").click()
            leader.by("work-leader-activities").click()
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
        staff.by("tab-work").click()
        staff.by("work-approvals").click()
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
