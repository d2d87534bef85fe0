"""Parking duty in the mini-program pages: a member sees their shifts and picks a teammate to
swap with (who is free that day), the teammate accepts; the leader generates and publishes a
roster; staff read it as a table."""

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
    assert make.call("PUT", f"/api/v1/teams/{team}/members/{leader.id}/availability", leader,
                     json={"unavailable": [shift["date"]]}).status_code == 200
    with phone(browser, site) as member:
        member.login(first.openid).open("/duty")
        card = member.by(f"shift-{shift['id']}")
        expect(card).to_contain_text("早班 07:00–15:00")
        card.get_by_text("找队友换班").click()
        picker = member.by(f"mate-{shift['id']}")  # teammates by name, free ones first
        expect(picker.locator("option")).to_have_text(["孙*凡（当天有空）", "赵*红（当天不便）"])
        picker.select_option(label="孙*凡（当天有空）")
        member.by(f"ask-swap-{shift['id']}").click()
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
    assert [(s["status"], s["to_user_id"]) for s in swaps] == [("accepted", second.id)]


def test_staff_read_the_roster_as_a_table(browser, site, make, world):
    team, leader, first, second, roster = published_roster(make, world)
    with phone(browser, site) as staff:
        staff.login(world.staff_a.openid)
        staff.open_work("roster")
        table = staff.by(f"roster-{roster['id']}")
        expect(table).to_contain_text("已发布")
        expect(table).to_contain_text("钱多多")
        staff.shot("staff-roster")


def test_leader_generates_a_roster_and_publishes_it_and_members_are_told(
        browser, site, make, world):
    team = make.team(world.a, TeamCategory.PARKING)
    leader = make.member(team, world.a, TeamRole.LEADER, "赵小红")
    member = make.member(team, world.a, TeamRole.MEMBER, "钱多多")
    make.call("PUT", f"/api/v1/teams/{team}/shift-templates", leader, json={
        "shifts": [{"name": "早班", "start": "07:00", "end": "15:00", "needed": 1},
                   {"name": "夜班", "start": "23:00", "end": "07:00", "needed": 1}]})
    first = (now().astimezone(LOCAL_TZ) + timedelta(days=1)).date()
    last = first + timedelta(days=2)
    with phone(browser, site) as device:
        device.login(leader.openid)
        device.open_work("leader-roster")
        device.by(f"roster-from-{team}").fill(first.isoformat())
        device.by(f"roster-to-{team}").fill(last.isoformat())
        device.by(f"roster-generate-{team}").click()
        draft = device.page.locator(".card[data-testid^=roster-]").filter(has_text="草稿")
        expect(draft).to_contain_text("钱*多")  # names in the table, masked for a leader
        expect(draft.locator("tr")).to_have_count(4)  # a header and three days
        device.shot("leader-roster-draft")
        roster_id = int(draft.get_attribute("data-testid").removeprefix("roster-"))
        device.by(f"roster-publish-{roster_id}").click()
        expect(device.page.locator("#toast")).to_contain_text("已发布")
        expect(device.by(f"roster-{roster_id}")).to_contain_text("已发布")
    assert make.call("GET", f"/api/v1/rosters/{roster_id}", leader).json["status"] == "published"
    notices = make.call("GET", "/api/v1/me/notifications", member).json["items"]
    assert any("值班表已发布" in n["body"] for n in notices)
    shifts = make.call("GET", "/api/v1/me/shifts", member).json["items"]
    assert shifts and {s["roster_id"] for s in shifts} == {roster_id}
