"""Parking duty in the mini-program pages: a member sees their shifts and asks a teammate to
swap, the teammate accepts; staff and the leader read the roster as a table."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from backend.common.clock import LOCAL_TZ, now
from backend.communities.models import TeamCategory, TeamRole
from tests.browser import phone


def published_roster(make, world):
    team = make.team(world.a, TeamCategory.PARKING)
    leader = make.member(team, world.a, TeamRole.LEADER, "赵小红")
    first = make.member(team, world.a, TeamRole.MEMBER, "钱多多")
    second = make.member(team, world.a, TeamRole.MEMBER, "孙一凡")
    make.call("PUT", f"/api/v1/teams/{team}/shift-templates", leader, json={
        "shifts": [{"name": "早班", "start": "07:00", "end": "15:00", "needed": 1}]})
    tomorrow = (now().astimezone(LOCAL_TZ) + timedelta(days=1)).date()
    roster = make.call("POST", f"/api/v1/teams/{team}/rosters", leader, json={
        "from": tomorrow.isoformat(), "to": (tomorrow + timedelta(days=3)).isoformat()})
    assert roster.status_code == 201, roster.json
    published = make.call("POST", f"/api/v1/rosters/{roster.json['id']}/publish", leader)
    assert published.status_code == 200, published.json
    return team, leader, first, second, published.json


def test_member_asks_to_swap_a_shift_and_the_teammate_accepts(browser, site, make, world):
    team, leader, first, second, roster = published_roster(make, world)
    shift = next(a for a in roster["assignments"] if a["user_id"] == first.id)
    with phone(browser, site) as member:
        member.login(first.openid).open("/duty")
        card = member.by(f"shift-{shift['id']}")
        expect(card).to_contain_text("早班 07:00–15:00")
        card.get_by_placeholder("对方的用户编号").fill(str(second.id))
        card.get_by_text("申请换班").click()
        expect(member.page.locator("#toast")).to_contain_text("换班申请已发出")
        expect(member.page.locator("[data-testid^=swap-]").first).to_contain_text("待对方同意")
        member.shot("duty")
    with phone(browser, site) as teammate:
        teammate.login(second.openid).open("/duty")
        swap = teammate.page.locator("[data-testid^=swap-]").first
        expect(swap).to_contain_text("有人想和你换班")
        swap.get_by_text("同意换班").click()
        expect(teammate.page.locator("[data-testid^=swap-]").first).to_contain_text("待队长批准")
    swaps = make.call("GET", "/api/v1/me/swap-requests", second).json["items"]
    assert [s["status"] for s in swaps] == ["accepted"]


def test_staff_read_the_roster_as_a_table(browser, site, make, world):
    team, leader, first, second, roster = published_roster(make, world)
    with phone(browser, site) as staff:
        staff.login(world.staff_a.openid)
        staff.open_work("roster")
        table = staff.by(f"roster-{roster['id']}")
        expect(table).to_contain_text("已发布")
        expect(table).to_contain_text("钱多多")
        staff.shot("staff-roster")
