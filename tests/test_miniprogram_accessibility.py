"""适老化 (issue 20): every page in normal and large text, checked by axe-core (4.14.1,
vendored with its MPL-2.0 licence in ``tests/vendor/``) in Chromium: no serious or critical
violation (WCAG AA contrast, names and labels, tap targets…). The large-text setting in 我的
is remembered."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from playwright.sync_api import expect

from backend.common.clock import now
from backend.communities.models import TeamCategory, TeamMember, TeamRole
from tests.browser import phone, seat, sign_up
from tests.parking_helpers import roster, tomorrow
from tests.test_miniprogram_gifts import give_points

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
RUN_AXE = """async () => {
  // target-size (WCAG 2.2 AA, 24 px) is off by default in axe-core: the residents need it.
  const found = await axe.run(document, {
    resultTypes: ["violations"], rules: { "target-size": { enabled: true } } });
  return found.violations.filter((v) => ["serious", "critical"].includes(v.impact))
    .map((v) => `${v.id} (${v.impact}): ${
      v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
}"""


def scene(app, make, world):
    """Something on every page: an activity under way with a resident checked in, a gift
    reserved, a parking shift, notices."""
    activity = make.activity(world.team_a, title="楼道义务清扫", self_checkin_allowed=True,
                             starts_at=now() - timedelta(minutes=20))
    seat(app, activity, world.resident_a)
    upcoming = make.activity(world.team_a, title="老年人智能手机课堂")
    sign_up(make, world.resident_a, upcoming)
    code = make.call("GET", "/api/v1/me/checkin-code", world.resident_a).json["code"]
    make.call("POST", f"/api/v1/activities/{activity}/scans", world.leader_a,
              json={"code": code, "direction": "in", "scan_id": "a11y-in"})
    give_points(app, world.a, world.resident_a, 50)
    gift = make.call("POST", f"/api/v1/communities/{world.a}/gifts", world.staff_a,
                     json={"name": "抽纸一提", "points_cost": 20, "stock": 5}).json
    make.call("POST", f"/api/v1/gifts/{gift['id']}/redemptions", world.resident_a,
              json={"quantity": 1})
    team = make.team(world.a, TeamCategory.PARKING)
    make._save(TeamMember(team_id=team, user_id=world.leader_a.id, role=TeamRole.LEADER))
    make._save(TeamMember(team_id=team, user_id=world.resident_a.id, role=TeamRole.MEMBER))
    make.call("PUT", f"/api/v1/teams/{team}/shift-templates", world.leader_a, json={
        "shifts": [{"name": "早班", "start": "07:00", "end": "15:00", "needed": 1}]})
    from types import SimpleNamespace
    roster(make, SimpleNamespace(team=team, leader=world.leader_a), tomorrow(),
           tomorrow() + timedelta(days=1))
    return activity, upcoming


def routes(activity, upcoming):
    resident = ["/activities", f"/activity/{upcoming}", "/code", "/me", "/record", "/points",
                "/gifts", "/redemptions", "/duty", "/inbox"]
    leader = ["/work", "/leader/activities", f"/leader/scan/{activity}",
              f"/leader/attendance/{activity}", f"/leader/poster/{activity}", "/staff/roster"]
    staff = ["/work", "/staff/approvals", f"/staff/approvals/{activity}", "/staff/pickup",
             "/staff/reconciliation", "/staff/roster", "/staff/duty", "/staff/audit"]
    return resident, leader, staff


def voice_scene(make, world):
    """§9a's pages: an open need and an answered one, an ended activity to rate; the
    routes each person walks (resident, staff, admin)."""
    from tests.test_miniprogram_voice import accept, attended, ended_activity, post_need

    post_need(make, world, world.resident_a, "快递柜太少", "other")
    answered = accept(make, world, post_need(make, world, make.resident(world.a, "李秀英")),
                      "本周五前修好")
    ended = ended_activity(make, world)
    attended(make, world, ended, world.resident_a)
    rater = make.resident(world.a, "王秀兰")
    attended(make, world, ended, rater)
    make.call("POST", f"/api/v1/activities/{ended}/evaluations", rater,
              json={"rating": 4, "comment": "很耐心"})
    resident = ["/needs", "/needs/new", "/evaluations/pending", f"/evaluate/{ended}",
                f"/activity/{ended}", "/notice-board", f"/need/{answered['id']}", "/inbox"]
    staff = ["/staff/needs", "/staff/assessment", "/notice-board", f"/leader/evaluations/{ended}"]
    admin = ["/work", "/admin/overview", "/staff/assessment", "/admin/weights"]
    return resident, staff, admin


def check(device, route: str, mode: str, found: list[str]) -> None:
    page = device.page
    # Mark the page being left, so that the checks below wait for the one being opened.
    page.evaluate("""(route) => { if (location.hash !== `#${route}`) {
        document.querySelector("#page > [data-page]")?.setAttribute("data-left", ""); } }""", route)
    device.open(route)
    expect(page.locator("#page > [data-page]:not([data-left])")).not_to_be_empty()
    expect(page.locator("#page")).not_to_contain_text("加载中")
    expect(page.locator("html")).to_have_class("large-text" if mode == "large" else "")
    found += [f"[{mode}] {route}: {v}" for v in page.evaluate(RUN_AXE)]


def walk(browser, site, person, pages, mode, found, extra=None) -> None:
    with phone(browser, site, bypass_csp=True) as device:  # only to inject axe-core
        if person is None:
            device.open("/login")
        else:
            device.login(person.openid)
        if mode == "large" and person is None:
            device.page.evaluate("wx.setStorageSync('large_text', true)")
            device.page.reload()
        elif mode == "large":
            device.open("/me")
            device.by("large-text").check()
            device.page.reload()  # remembered
            expect(device.by("large-text")).to_be_checked()
        device.page.add_script_tag(path=str(AXE))
        if person is None:
            check(device, "/login", mode, found)
        for route in pages:
            check(device, route, mode, found)
        if extra:
            extra(device, mode, found)
        device.shot(f"a11y-{mode}-{pages[-1].strip('/').replace('/', '-') if pages else 'login'}")


def overlays(device, mode, found):
    """The scanner and the subscribe dialog, which cover the page."""
    device.open("/inbox")
    device.by("subscribe-all").click()
    expect(device.by("subscribe-dialog")).to_be_visible()
    found += [f"[{mode}] subscribe dialog: {v}" for v in device.page.evaluate(RUN_AXE)]
    device.by("subscribe-dialog").get_by_role("button", name="取消", exact=True).click()
    device.page.evaluate("() => { wx.scanCode({}).catch(() => {}); }")
    expect(device.by("scanner")).to_be_visible()
    found += [f"[{mode}] scanner: {v}" for v in device.page.evaluate(RUN_AXE)]


def test_every_page_passes_axe_in_normal_and_large_text(app, browser, site, make, world):
    resident, leader, staff = routes(*scene(app, make, world))
    voice_resident, voice_staff, admin = voice_scene(make, world)
    resident, staff = resident + voice_resident, staff + voice_staff
    found: list[str] = []
    for mode in ("normal", "large"):
        walk(browser, site, None, [], mode, found)
        walk(browser, site, world.resident_a, resident, mode, found, extra=overlays)
        walk(browser, site, world.leader_a, leader, mode, found)
        walk(browser, site, world.staff_a, staff, mode, found)
        walk(browser, site, world.admin, admin, mode, found)
    assert found == []
