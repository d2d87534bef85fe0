"""User actions in the mini-program pages (issue 20): one Idempotency-Key per action, reused
by 重试 after a dropped connection; a resident cancelling a redemption; the reconciliation
page's checks in Chinese, its month shortcuts and exports."""

from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import expect

from backend.common.clock import LOCAL_TZ, now
from backend.extensions import db
from tests.browser import phone
from tests.test_miniprogram_gifts import give_points


def shelve(make, world, **gift):
    body = {"name": "抽纸一提", "points_cost": 20, "stock": 5} | gift
    return make.call("POST", f"/api/v1/communities/{world.a}/gifts", world.staff_a,
                     json=body).json


def test_a_retry_after_a_dropped_connection_reuses_the_actions_key(
        app, browser, site, make, world):
    """The first redemption reaches the server but its answer is lost on the way back: 重试
    sends the same key, so the server answers it again and nothing is redeemed twice."""
    give_points(app, world.a, world.resident_a, 50)
    gift = shelve(make, world)
    keys = []
    with phone(browser, site) as resident:
        page = resident.page

        def drop_the_answer(route):
            keys.append(route.request.headers.get("idempotency-key"))
            route.fetch()  # the server does the work…
            route.abort("connectionreset")  # …and the phone never hears back

        resident.login(world.resident_a.openid).open("/gifts")
        page.route("**/api/v1/gifts/*/redemptions", drop_the_answer)
        resident.by(f"redeem-{gift['id']}").click()
        card = resident.by(f"gift-{gift['id']}")
        expect(card.get_by_test_id("error")).to_contain_text("网络异常，请检查网络后重试")
        page.unroute("**/api/v1/gifts/*/redemptions")
        with page.expect_request("**/api/v1/gifts/*/redemptions") as retried:
            card.get_by_test_id("retry").click()
        expect(resident.by("pickup-code")).not_to_be_empty()
        expect(resident.by("shelf-balance")).to_have_text("我的积分：30")
        assert keys[0] and retried.value.headers["idempotency-key"] == keys[0]
        with page.expect_request("**/api/v1/gifts/*/redemptions") as next_tap:
            resident.by(f"redeem-{gift['id']}").click()  # a new tap is a new action
        expect(resident.by("shelf-balance")).to_have_text("我的积分：10")
        assert next_tap.value.headers["idempotency-key"] not in (None, keys[0])
    mine = make.call("GET", "/api/v1/me/redemptions", world.resident_a).json["items"]
    assert len(mine) == 2 and len({r["pickup_code"] for r in mine}) == 2
    assert make.call("GET", "/api/v1/me/points", world.resident_a).json["balance"] == 10


def test_resident_cancels_a_redemption_and_gets_the_points_back(
        app, browser, site, make, world):
    give_points(app, world.a, world.resident_a, 30)
    gift = shelve(make, world, name="洗衣液", stock=3)
    reserved = make.call("POST", f"/api/v1/gifts/{gift['id']}/redemptions", world.resident_a,
                         json={"quantity": 1}).json
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid).open("/redemptions")
        card = resident.by(f"redemption-{reserved['id']}")
        expect(card.get_by_test_id("redemption-status")).to_have_text("待领取")
        expect(card).to_contain_text(reserved["pickup_code"])
        card.get_by_role("button", name="取消兑换").click()
        expect(resident.page.locator("#toast")).to_contain_text("已取消，积分已退回")
        expect(card.get_by_test_id("redemption-status")).to_have_text("已取消")
        expect(card).not_to_contain_text(reserved["pickup_code"])
        resident.open("/points")
        expect(resident.by("points-balance")).to_have_text("30")
        expect(resident.by("statement")).to_contain_text("兑换退回")
    shelf = make.call("GET", f"/api/v1/communities/{world.a}/gifts", world.resident_a).json
    assert [g["stock_left"] for g in shelf["items"]] == [3]


def test_reconciliation_reads_each_check_in_chinese_with_what_to_do(
        app, browser, site, make, world):
    from backend.points.models import Account

    give_points(app, world.a, world.resident_a, 40)
    with app.app_context():  # a stored balance that its entries do not explain
        account = db.session.query(Account).filter_by(user_id=world.resident_a.id).one()
        account.balance += 5
        db.session.commit()
    with phone(browser, site) as staff:
        staff.login(world.staff_a.openid)
        staff.open_work("reconciliation")
        checks = staff.by("reconciliation-check")
        expect(checks.first).to_be_visible()
        failed = staff.page.locator("[data-check=stored_balances_match_entries]")
        expect(failed).to_have_attribute("data-ok", "false")
        expect(failed).to_contain_text("账户余额与流水一致")
        expect(failed).to_contain_text("未通过")
        expect(failed).to_contain_text("这意味着：有账户显示的余额与其流水合计不同")
        expect(failed).to_contain_text("请这样处理：")
        passed = staff.page.locator("[data-check=redeem_transfers_have_redemptions]")
        expect(passed).to_contain_text("兑换扣分均有兑换记录")
        expect(passed).to_contain_text("通过")
        staff.shot("staff-reconciliation-checks")
        names = [c["name"] for c in make.call(
            "GET", f"/api/v1/communities/{world.a}/points/reconciliation",
            world.staff_a).json["checks"]]
        for name in names:  # every check the server lists has its Chinese words
            expect(staff.page.locator(f"[data-check={name}]")).not_to_contain_text(name)
        body = staff.page.inner_text("#page")
        assert "_" not in body


def month_of(day: date) -> tuple[str, str, str]:
    first = day.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return f"{first:%Y-%m}", first.isoformat(), last.isoformat()


def test_reconciliation_defaults_to_this_month_and_offers_the_last_closed_one(
        browser, site, make, world):
    today = now().astimezone(LOCAL_TZ).date()
    _, this_first, this_last = month_of(today)
    closed, closed_first, closed_last = month_of(today.replace(day=1) - timedelta(days=40))
    response = make.call("POST", f"/api/v1/communities/{world.a}/points/periods/{closed}/close",
                         world.staff_a)
    assert response.status_code == 201, response.json
    with phone(browser, site, accept_downloads=True) as staff:
        staff.login(world.staff_a.openid)
        staff.open_work("reconciliation")
        expect(staff.by("reconcile-from")).to_have_value(this_first)
        expect(staff.by("reconcile-to")).to_have_value(this_last)
        with staff.page.expect_download() as this_month:
            staff.by("export-csv").click()
        assert this_month.value.suggested_filename == f"积分流水-{this_first}-{this_last}.csv"
        shortcut = staff.by("reconcile-last-closed")
        expect(shortcut).to_have_text(f"最近结账月 {closed}")
        shortcut.click()  # one tap
        expect(staff.by("reconcile-from")).to_have_value(closed_first)
        expect(staff.by("reconcile-to")).to_have_value(closed_last)
        expect(staff.by("reconciliation-closed")).to_contain_text(closed)
        with staff.page.expect_download() as closed_month:
            staff.by("export-xlsx").click()
        assert closed_month.value.suggested_filename == (
            f"积分流水-{closed_first}-{closed_last}.xlsx")
        staff.by("reconcile-this-month").click()
        expect(staff.by("reconcile-from")).to_have_value(this_first)
