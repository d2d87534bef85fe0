"""Gifts in the mini-program pages: a resident redeems from the shelf (a refusal in Chinese
when points are short), staff fulfil it by pickup code, the resident sees it picked up."""

from __future__ import annotations

from playwright.sync_api import expect

from backend.extensions import db
from tests.browser import phone
from tests.points_support import seed_points


def give_points(app, community_id, person, amount):
    with app.app_context():
        seed_points(community_id, person.id, amount, f"test-credit-{person.id}",
                    ref=f"attendance:test-{person.id}")
        db.session.commit()


def test_resident_redeems_a_gift_and_staff_fulfil_it_by_pickup_code(
        app, browser, site, make, world):
    give_points(app, world.a, world.resident_a, 30)
    shelf = f"/api/v1/communities/{world.a}/gifts"
    tissues = make.call("POST", shelf, world.staff_a, json={
        "name": "抽纸一提", "description": "维达抽纸 6 包", "points_cost": 20, "stock": 5,
        "per_user_limit": 2}).json
    coupon = make.call("POST", shelf, world.staff_a, json={
        "name": "洗车券", "points_cost": 80, "stock": 5}).json
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid)
        resident.open("/gifts")
        resident.by(f"redeem-{coupon['id']}").click()
        expect(resident.by(f"gift-{coupon['id']}").get_by_test_id("error")).to_have_text("积分不足")
        resident.by(f"redeem-{tissues['id']}").click()
        expect(resident.by("pickup-code")).not_to_be_empty()
        pickup_code = resident.by("pickup-code").inner_text()
        expect(resident.by("shelf-balance")).to_have_text("我的积分：10")
        expect(resident.by(f"gift-{tissues['id']}")).to_contain_text("剩余 4")
        resident.shot("gift-shelf")
    with phone(browser, site) as staff:
        staff.login(world.staff_a.openid)
        staff.open_work("pickup")
        expect(staff.page.get_by_text(pickup_code)).to_be_visible()  # waiting at the counter
        staff.by("pickup-input").fill(pickup_code)
        staff.by("pickup-submit").click()
        expect(staff.by("pickup-done")).to_contain_text("核销成功")
        expect(staff.by("pickup-done")).to_contain_text("抽纸一提 × 1")
        staff.shot("staff-pickup")
        staff.by("pickup-input").fill(pickup_code)
        staff.by("pickup-submit").click()
        again = make.call("POST", "/api/v1/redemptions/fulfil", world.staff_a,
                          json={"pickup_code": pickup_code}).json["error"]
        assert again["code"] == "already_fulfilled"
        expect(staff.by("error")).to_have_text(again["message"])
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid).open("/redemptions")
        expect(resident.by("redemption-status")).to_have_text("已领取")
        resident.shot("redemptions")
        resident.open("/points")
        expect(resident.by("points-balance")).to_have_text("10")
