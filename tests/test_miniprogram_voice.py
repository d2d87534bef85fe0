"""The residents' voice in the mini-program pages (SPEC §9a, issue 18) in a real headless
Chromium: posting and supporting a need, rating an attended activity, the notice board,
staff triage, the yearly team assessment and the street overview."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from playwright.sync_api import expect

from backend.checkin.models import Attendance, AttendanceStatus
from backend.common.clock import LOCAL_TZ, local_midnight, now
from backend.extensions import db
from backend.points.ledger import account_for, transfer
from backend.points.models import AccountKind, TransferReason
from tests.browser import phone
from tests.points_support import seed_points


def ended_activity(make, world, title: str = "敬老院探访", **fields) -> int:
    """An activity that ended an hour ago."""
    return make.activity(world.team_a, title=title, starts_at=now() - timedelta(hours=3),
                         ends_at=now() - timedelta(hours=1), **fields)


def attended(make, world, activity: int, person) -> int:
    """``person``'s attendance on ``activity``, confirmed by the leader and approved by staff."""
    start = now() - timedelta(hours=3)
    return make._save(Attendance(
        activity_id=activity, community_id=world.a, user_id=person.id,
        checked_in_at=start, checked_out_at=start + timedelta(hours=2), served_minutes=120,
        minutes=120, status=AttendanceStatus.APPROVED, confirmed_by=world.leader_a.id,
        confirmed_at=start + timedelta(hours=2), decided_by=world.staff_a.id,
        decided_at=start + timedelta(hours=2, minutes=30), points=20, points_per_hour=10))


def post_need(make, world, person, title: str = "小区东门路灯坏了",
              category: str = "safety") -> dict:
    response = make.call("POST", f"/api/v1/communities/{world.a}/needs", person, json={
        "title": title, "description": "晚上老人出门看不清路", "category": category})
    assert response.status_code == 201, response.json
    return response.json


def accept(make, world, need: dict, reply: str) -> dict:
    response = make.call("POST", f"/api/v1/needs/{need['id']}/triage", world.staff_a, json={
        "status": "accepted", "reply": reply, "team_id": world.team_a})
    assert response.status_code == 200, response.json
    return response.json


def test_two_residents_post_and_support_a_need(browser, site, make, world):
    neighbour = make.resident(world.a, "李秀英")
    with phone(browser, site) as author:
        author.login(world.resident_a.openid)
        author.by("tab-me").click()
        author.by("me-needs").click()
        author.by("need-new").click()
        author.by("need-title").fill("楼下增设老年人休息座椅")
        author.by("need-description").fill("3 栋门口没有可以坐的地方，老人买菜回来想歇一歇")
        author.by("need-category").select_option(label="养老")
        author.shot("need-new")
        author.by("need-submit").click()
        card = author.page.locator("[data-testid=needs-list] article",
                                   has_text="楼下增设老年人休息座椅")
        expect(card).to_contain_text("待处理")
        expect(card).to_contain_text("养老")
        expect(card.locator(".supporters")).to_have_text("1")
        expect(card.get_by_role("button", name="取消支持：楼下增设老年人休息座椅")).to_be_visible()
    needs = make.call("GET", f"/api/v1/communities/{world.a}/needs", neighbour).json["items"]
    assert [(n["title"], n["category"], n["supporters"]) for n in needs] == [
        ("楼下增设老年人休息座椅", "elderly", 1)]
    need = needs[0]["id"]
    with phone(browser, site) as supporter:
        supporter.login(neighbour.openid).open("/needs")
        button = supporter.by(f"need-support-{need}")
        expect(button).to_have_text("支持")
        button.click()
        expect(supporter.by(f"need-supporters-{need}")).to_have_text("2")
        expect(supporter.by(f"need-support-{need}")).to_have_text("取消支持")
        supporter.shot("needs-supported")
        supporter.page.reload()  # the server's count, not the page's
        expect(supporter.by(f"need-supporters-{need}")).to_have_text("2")
        expect(supporter.by(f"need-support-{need}")).to_have_attribute("aria-pressed", "true")
    listed = make.call("GET", f"/api/v1/communities/{world.a}/needs", neighbour).json["items"]
    assert (listed[0]["supporters"], listed[0]["i_support"]) == (2, True)


def test_a_resident_withdraws_support_and_sorts_by_newest(browser, site, make, world):
    older = post_need(make, world, make.resident(world.a, "王芳"), "快递柜太少", "other")
    newer = post_need(make, world, make.resident(world.a, "刘强"), "儿童游乐区地面破损", "children")
    make.call("POST", f"/api/v1/needs/{older['id']}/support", world.resident_a)
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid)
        resident.by("quick-needs").click()  # 民意, on the first page
        expect(resident.by(f"need-supporters-{older['id']}")).to_have_text("2")
        cards = resident.page.locator("[data-testid=needs-list] article")
        expect(cards.first).to_contain_text("快递柜太少")  # most supported first
        resident.by("needs-sort").select_option("newest")
        expect(cards.first).to_contain_text("儿童游乐区地面破损")
        resident.by(f"need-support-{older['id']}").click()
        expect(resident.by(f"need-supporters-{older['id']}")).to_have_text("1")
        expect(resident.by(f"need-support-{older['id']}")).to_have_text("支持")
    assert newer["supporters"] == 1
    listed = {n["id"]: n for n in make.call(
        "GET", f"/api/v1/communities/{world.a}/needs", world.resident_a).json["items"]}
    assert (listed[older["id"]]["supporters"], listed[older["id"]]["i_support"]) == (1, False)


def test_a_resident_rates_an_attended_activity_from_the_inbox_once(browser, site, make, world):
    activity = ended_activity(make, world)
    attended(make, world, activity, world.resident_a)
    pending = make.call("GET", "/api/v1/me/evaluations/pending", world.resident_a)
    assert pending.status_code == 200, pending.json
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid).open("/inbox")
        resident.by("inbox-pending-evaluations").click()
        resident.by(f"pending-{activity}").click()
        expect(resident.by("evaluate-title")).to_have_text("敬老院探访")
        expect(resident.by("evaluation-summary")).to_have_text("还没有评价")
        resident.by("evaluation-submit").click()  # no stars yet: nothing is sent
        expect(resident.page.locator("#toast")).to_have_text("请先选择星级")
        resident.page.get_by_label("4 星 满意").check()
        resident.by("evaluation-comment").fill("志愿者很耐心，陪老人聊了很久")
        resident.shot("evaluate")
        resident.by("evaluation-submit").click()
        expect(resident.by("evaluation-done")).to_be_visible()
        expect(resident.by("evaluation-summary")).to_contain_text("4.0 分 · 1 人评价")
        # Once: the second try shows the server's refusal in its own words.
        again = make.call("POST", f"/api/v1/activities/{activity}/evaluations", world.resident_a,
                          json={"rating": 5, "comment": ""})
        assert again.status_code == 409 and again.json["error"]["code"] == "already_evaluated"
        resident.open(f"/activity/{activity}")
        expect(resident.by("activity-evaluation-summary")).to_contain_text("1 人评价")
        resident.by("evaluate").click()
        resident.page.get_by_label("5 星 非常满意").check()
        resident.by("evaluation-submit").click()
        expect(resident.by("error")).to_have_text(again.json["error"]["message"])
        assert "already_evaluated" not in resident.page.inner_text("body")
        resident.open("/evaluations/pending")
        expect(resident.page.get_by_text("没有待评价的活动")).to_be_visible()
    summary = make.call("GET", f"/api/v1/activities/{activity}/evaluations/summary",
                        world.staff_a).json
    assert (summary["count"], summary["distribution"]["4"]) == (1, 1)


def test_an_activity_not_yet_ended_refuses_a_rating_in_chinese(browser, site, make, world):
    activity = make.activity(world.team_a, title="垃圾分类宣传",
                             starts_at=now() - timedelta(hours=1),
                             ends_at=now() + timedelta(hours=1))
    attended(make, world, activity, world.resident_a)
    refusal = make.call("POST", f"/api/v1/activities/{activity}/evaluations", world.resident_a,
                        json={"rating": 5, "comment": ""})
    assert refusal.status_code == 409 and refusal.json["error"]["code"] == "activity_not_ended"
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid).open(f"/evaluate/{activity}")
        resident.page.get_by_label("5 星 非常满意").check()
        resident.by("evaluation-submit").click()
        expect(resident.by("error")).to_have_text(refusal.json["error"]["message"])


def close_last_month_with(app, make, world, issued: int, redeemed: int) -> str:
    """Last month: ``issued`` points credited and ``redeemed`` spent, then the books closed."""
    first = now().astimezone(LOCAL_TZ).date().replace(day=1)
    last = (first - timedelta(days=1)).replace(day=1)
    with time_machine.travel(local_midnight(last) + timedelta(days=2)), app.app_context():
        seed_points(world.a, world.resident_a.id, issued, "board-credit")
        resident = account_for(world.a, AccountKind.RESIDENT, world.resident_a.id)
        transfer(resident, account_for(world.a, AccountKind.REDEEMED), redeemed,
                 TransferReason.REDEEM, "redemption:1", "board-redeem")
        db.session.commit()
    closed = make.call("POST", f"/api/v1/communities/{world.a}/points/periods/{last:%Y-%m}/close",
                       world.staff_a)
    assert closed.status_code == 201, closed.json
    return f"{last:%Y-%m}"


def test_the_notice_board_shows_the_triaged_needs_reply_and_the_rating(
        app, browser, site, make, world):
    month = close_last_month_with(app, make, world, issued=40, redeemed=15)
    need = post_need(make, world, world.resident_a)
    accept(make, world, need, "已联系物业，本周五前修好")
    activity = ended_activity(make, world, "老年人智能手机课堂")
    attended(make, world, activity, world.resident_a)
    rated = make.call("POST", f"/api/v1/activities/{activity}/evaluations", world.resident_a,
                      json={"rating": 5, "comment": "学会了视频通话"})
    assert rated.status_code == 201, rated.json
    board = make.call("GET", f"/api/v1/communities/{world.a}/notice-board", world.resident_a)
    assert board.status_code == 200, board.json
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid)
        resident.by("tab-me").click()
        resident.by("me-notice-board").click()
        expect(resident.by(f"board-reply-{need['id']}")).to_contain_text("已联系物业，本周五前修好")
        expect(resident.by(f"board-need-{need['id']}")).to_contain_text("已受理")
        expect(resident.by(f"board-activity-{activity}")).to_contain_text("5.0 分 · 1 人评价")
        expect(resident.by("board-points")).to_contain_text(f"{month} 积分公示")
        expect(resident.by("board-issued")).to_have_text("40")
        expect(resident.by("board-redeemed")).to_have_text("15")
        resident.shot("notice-board")
        # Aggregates and masked names only: no comment text, no resident's full name.
        assert "学会了视频通话" not in resident.page.inner_text("#page")
        assert "张三明" not in resident.page.inner_text("#page")


def test_staff_accept_a_need_and_the_resident_sees_the_reply(browser, site, make, world):
    need = post_need(make, world, world.resident_a)
    teams = make.call("GET", f"/api/v1/communities/{world.a}/teams", world.staff_a).json["items"]
    team_name = next(t["name"] for t in teams if t["id"] == world.team_a)
    with phone(browser, site) as staff:
        staff.login(world.staff_a.openid)
        staff.open_work("needs")
        form = staff.by(f"triage-{need['id']}")
        form.locator("summary").click()
        staff.by(f"triage-status-{need['id']}").select_option("accepted")
        staff.by(f"triage-team-{need['id']}").select_option(label=team_name)
        staff.by(f"triage-reply-{need['id']}").fill("已交给志愿队，下周一开始排查")
        staff.shot("staff-triage")
        staff.by(f"triage-submit-{need['id']}").click()
        expect(staff.page.locator("#toast")).to_have_text("已处理：已受理")
        expect(staff.by(f"need-{need['id']}")).to_have_count(0)  # no longer waiting
        staff.by("triage-filter").select_option("accepted")
        expect(staff.by(f"need-status-{need['id']}")).to_have_text("已受理")
    with phone(browser, site) as resident:
        resident.login(world.resident_a.openid).open("/needs")
        expect(resident.by(f"need-status-{need['id']}")).to_have_text("已受理")
        expect(resident.by(f"need-reply-{need['id']}")).to_contain_text("已交给志愿队，下周一开始排查")
        expect(resident.by(f"need-team-{need['id']}")).to_have_text(f"承接团队：{team_name}")
        resident.shot("need-accepted")
        # The author is notified; the notice opens the need.
        resident.by("tab-inbox").click()
        notice = resident.page.locator("[data-testid^=notice-link-]")
        expect(notice).to_have_count(1)
        notice.click()
        expect(resident.by(f"need-status-{need['id']}")).to_have_text("已受理")
        expect(resident.by(f"need-reply-{need['id']}")).to_contain_text("已交给志愿队")
    listed = make.call("GET", f"/api/v1/communities/{world.a}/needs", world.resident_a).json
    assert [(n["status"], n["reply"]) for n in listed["items"]] == [
        ("accepted", "已交给志愿队，下周一开始排查")]


def test_staff_decline_needs_a_reply_and_a_merge_names_the_target(browser, site, make, world):
    target = post_need(make, world, world.resident_a, "东门路灯不亮")
    duplicate = post_need(make, world, make.resident(world.a, "周敏"), "东门那边太黑了")
    with phone(browser, site) as staff:
        staff.login(world.staff_a.openid).open("/staff/needs")
        staff.by(f"triage-{duplicate['id']}").locator("summary").click()
        staff.by(f"triage-status-{duplicate['id']}").select_option("merged")
        staff.by(f"triage-submit-{duplicate['id']}").click()  # no reply: nothing is sent
        expect(staff.page.locator("#toast")).to_have_text("请填写给居民的答复")
        staff.by(f"triage-merged-{duplicate['id']}").select_option(str(target["id"]))
        staff.by(f"triage-reply-{duplicate['id']}").fill("与东门路灯一事合并办理")
        staff.by(f"triage-submit-{duplicate['id']}").click()
        expect(staff.page.locator("#toast")).to_have_text("已处理：已合并")
        expect(staff.by(f"need-{duplicate['id']}")).to_have_count(0)
    merged = make.call("GET", f"/api/v1/communities/{world.a}/needs", world.resident_a,
                       query_string={"status": "merged"}).json["items"]
    assert [(n["id"], n["merged_into"]) for n in merged] == [(duplicate["id"], target["id"])]


def test_staff_see_the_yearly_team_assessment_and_download_it(browser, site, make, world):
    year = now().year
    expected = make.call("GET", f"/api/v1/communities/{world.a}/teams/evaluation",
                         world.staff_a, query_string={"year": year})
    assert expected.status_code == 200, expected.json
    with phone(browser, site) as staff:
        staff.login(world.staff_a.openid)
        staff.open_work("assessment")
        table = staff.by("assessment-table")
        for row in expected.json["items"]:
            expect(staff.by(f"assessment-row-{row['team_id']}")).to_contain_text(row["name"])
            expect(staff.by(f"assessment-total-{row['team_id']}")).to_have_text(
                f"{row['scores']['total']:.1f}")
        expect(table.locator("tbody tr")).to_have_count(len(expected.json["items"]))
        staff.by(f"assessment-metrics-{world.team_a}").locator("summary").click()
        expect(staff.by(f"assessment-metrics-{world.team_a}").locator("li").first).to_be_visible()
        staff.shot("staff-assessment")
        with staff.page.expect_download() as download:
            staff.by("assessment-xlsx").click()
        assert download.value.suggested_filename == f"团队年度评价-{year}.xlsx"
        assert download.value.path().read_bytes()[:2] == b"PK"  # a zip: an XLSX file


def test_the_admin_sees_the_street_overview_as_a_chart_and_a_table(browser, site, make, world):
    with phone(browser, site) as admin:
        admin.login(world.admin.openid)
        admin.open_work("overview")
        expect(admin.by("overview-chart")).to_be_visible()
        for community in (world.a, world.b):
            expect(admin.by(f"overview-row-{community}")).to_be_visible()
        expect(admin.by("overview-chart").locator("rect")).to_have_count(2)
        admin.by("overview-metric").select_option("residents")
        expect(admin.by("overview-chart")).to_have_attribute("aria-label", "各社区居民柱状图")
        admin.shot("admin-overview")


def test_staff_read_the_masked_comments_and_hide_an_abusive_one(browser, site, make, world):
    activity = ended_activity(make, world, "楼道清扫")
    kind, rude = make.resident(world.a, "王秀兰"), make.resident(world.a, "赵刚强")
    for person, rating, comment in ((kind, 5, "扫得很干净"), (rude, 1, "一群废物")):
        attended(make, world, activity, person)
        made = make.call("POST", f"/api/v1/activities/{activity}/evaluations", person,
                         json={"rating": rating, "comment": comment})
        assert made.status_code == 201, made.json
    comments = {c["comment"]: c for c in make.call(
        "GET", f"/api/v1/activities/{activity}/evaluations/summary", world.staff_a).json[
        "comments"]}
    with phone(browser, site) as leader:  # the team's leader reads; hiding is for staff
        leader.login(world.leader_a.openid)
        leader.open_work("leader-activities")
        leader.by(f"evaluations-{activity}").click()
        expect(leader.by("evaluation-comments")).to_contain_text("扫得很干净")
        expect(leader.by("evaluation-comments")).to_contain_text(comments["扫得很干净"]["author"])
        expect(leader.by("rating-chart").locator("rect")).to_have_count(5)
        assert "王秀兰" not in leader.page.inner_text("#page")
        expect(leader.page.get_by_text("隐藏此评价")).to_have_count(0)
    rude_id = comments["一群废物"]["id"]
    with phone(browser, site) as staff:
        staff.login(world.staff_a.openid).open(f"/leader/evaluations/{activity}")
        staff.by(f"comment-{rude_id}").get_by_text("隐藏此评价").click()
        staff.by(f"hide-reason-{rude_id}").fill("含侮辱性言语")
        staff.by(f"hide-{rude_id}").click()
        expect(staff.page.locator("#toast")).to_have_text("已隐藏")
        expect(staff.by(f"comment-{rude_id}")).to_have_count(0)
        expect(staff.by("evaluation-comments")).to_contain_text("扫得很干净")
        staff.shot("staff-evaluations")
    left = make.call("GET", f"/api/v1/activities/{activity}/evaluations/summary",
                     world.staff_a).json["comments"]
    assert [c["comment"] for c in left] == ["扫得很干净"]
    again = make.call("POST", f"/api/v1/evaluations/{rude_id}/hide", world.staff_a,
                      json={"reason": "再次"})
    assert again.status_code == 409


def test_the_admin_sets_the_assessment_weights_and_the_table_uses_them(
        browser, site, make, world):
    with phone(browser, site) as admin:
        admin.login(world.admin.openid)
        admin.open_work("weights")
        expect(admin.by("weights-status")).to_have_text("当前为默认权重")
        for dimension, value in (("foundation", "30"), ("conduct", "30"), ("performance", "30")):
            admin.by(f"weight-{dimension}").fill(value)
        expect(admin.by("weights-sum")).to_have_text("合计 90%（须为 100%）")
        admin.by("weights-save").click()  # the server refuses, in Chinese
        expect(admin.by("error")).to_contain_text("三项权重之和须为 100")
        admin.by("weight-foundation").fill("20")
        admin.by("weight-performance").fill("50")
        admin.by("weights-reason").fill("今年侧重业绩考量")
        admin.by("weights-save").click()
        expect(admin.page.locator("#toast")).to_have_text(
            "已保存：基本建设 20%，内部规范 30%，业绩考量 50%")
        admin.open(f"/staff/assessment?community={world.a}")
        expect(admin.by("assessment-weights")).to_have_text(
            "总分权重：基本建设 20% · 内部规范 30% · 业绩考量 50%")
        expect(admin.by(f"assessment-row-{world.team_a}")).to_be_visible()
    weights = make.call("GET", "/api/v1/street/assessment-weights", world.admin).json
    assert (weights["foundation"], weights["conduct"], weights["performance"]) == (20, 30, 50)
