"""The mini-program pages (SPEC §1) in a real headless Chromium against a served app:
serving, the resident's pages, refusals, points, inbox, reconciliation."""

from __future__ import annotations

from datetime import timedelta

import requests
from playwright.sync_api import expect

from backend.common.clock import now
from tests.browser import phone, sign_up


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


def test_pages_are_served_with_a_content_security_policy(browser, site, make, world):
    """Scripts only from the pages' own origin: an injected inline script does not run."""
    for path in ("/mp/", "/mp/app.js", "/mp/nothing-here.js"):
        policy = requests.get(f"{site}{path}", timeout=5).headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'self'" and directives["object-src"] == "'none'"
        assert directives["connect-src"].split() == ["'self'", world_origin(site)]
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid)  # the pages work under it
        ran = resident.page.evaluate("""() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
            return window.injected === true;
        }""")
        assert ran is False


def world_origin(site):
    config = requests.get(f"{site}/mp/config.json", timeout=5).json()
    return config["wechat_api_base"].rstrip("/")


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


def test_a_new_wechat_user_joins_a_community_from_the_me_page(browser, site, make, world):
    with phone(browser, site) as newcomer:
        newcomer.login("o-brand-new-neighbour")
        newcomer.by("tab-me").click()
        form = newcomer.by("join-form")
        form.locator("select").select_option(str(world.a))
        form.get_by_placeholder("真实姓名").fill("周小芳")
        form.get_by_placeholder("楼栋，如 3").fill("5")
        form.get_by_placeholder("单元，如 1").fill("2")
        form.get_by_role("button", name="提交").click()  # no room number: the 422 in Chinese
        expect(form.get_by_test_id("error")).to_contain_text("提交的内容有误")
        form.get_by_placeholder("房号，如 502").fill("301")
        form.get_by_role("button", name="提交").click()
        expect(newcomer.page.get_by_text("暂时没有活动")).to_be_visible()  # back on 活动
        newcomer.by("tab-me").click()
        expect(newcomer.by("me-name")).to_be_visible()
        expect(newcomer.page.locator("#page")).to_contain_text("5栋2单元301")
