"""The yearly team assessment (SPEC §9a 动态评价): a seeded year of activities, attendances,
ratings and needs, whose expected metrics and scores are computed here from the seed's own
plan (the formulas restated from docs/voice.md), never by calling the service."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from openpyxl import load_workbook
from sqlalchemy import select

from backend.activities.models import Activity, ActivityStatus
from backend.checkin.models import Attendance, AttendanceStatus
from backend.common.audit import AuditEntry
from backend.common.clock import today
from backend.communities.models import Team, TeamCategory, TeamMember, TeamRole
from backend.extensions import db
from backend.voice.models import Evaluation, Need, NeedCategory, NeedStatus
from backend.voice.street_settings import StreetSettings
from tests.conftest import ON_POSTGRES, all_at_once

LOCAL = ZoneInfo("Asia/Shanghai")
YEAR = 2025
A, P, R, N, OPEN = "approved", "confirmed", "rejected", "no_show", "open"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL).astimezone(UTC)


# The plan. An attendance is (resident, status, minutes, days after the end the leader
# signed off or None, corrected?). Ratings are (resident, rating, hidden?).
PLAN = {
    "t1": {"category": TeamCategory.SERVICE, "leaders": 2, "members": 3,
           "joined": local(2025, 1, 1, 9), "needs_done": 2,
           "activities": [
               {"start": local(2025, 3, 1, 9), "hours": 2, "attendances": [
                   ("r1", A, 120, 1, False), ("r2", A, 90, 2, True), ("r3", N, 0, None, False),
                   ("r4", P, 120, 6, False)],
                "ratings": [("r1", 5, False), ("r2", 4, False), ("r5", 3, True)]},
               {"start": local(2025, 6, 10, 14), "hours": 3, "attendances": [
                   ("r1", A, 180, 6.9, False), ("r5", A, 150, 7.1, False),
                   ("r6", OPEN, 0, None, False), ("r7", R, 60, 1, False)],
                "ratings": [("r1", 4, False), ("r6", 2, False)]},
           ]},
    "t2": {"category": TeamCategory.CULTURE_SPORTS, "leaders": 1, "members": 1,
           "joined": local(2025, 2, 1, 9), "needs_done": 0,
           "activities": [
               {"start": local(2025, 9, 1, 10), "hours": 2, "attendances": [
                   ("r1", A, 120, 1, False), ("r3", A, 120, 1, True)],
                "ratings": [("r1", 5, False), ("r3", 5, False)]},
           ]},
    "t3": {"category": TeamCategory.MEDIATION, "leaders": 0, "members": 0,
           "joined": local(2025, 1, 1, 9), "needs_done": 0, "activities": []},
    "t4": {"category": TeamCategory.CHARITY, "leaders": 0, "members": 0,
           "joined": local(2025, 1, 1, 9), "needs_done": 0, "activities": []},
}


# --- the expected figures, from the plan ------------------------------------------------------


def expected_metrics(team: dict) -> dict:
    rows = [row for activity in team["activities"] for row in activity["attendances"]]
    ratings = [rating for activity in team["activities"]
               for _, rating, hidden in activity["ratings"] if not hidden]
    approved = [row for row in rows if row[1] == A]
    served = [row for row in rows if row[1] != N]
    return {
        "members": team["leaders"] + team["members"], "leaders": team["leaders"],
        "active_volunteers": len({who for who, _, minutes, _, _ in approved if minutes}),
        "attendances": len(rows), "no_shows": len(rows) - len(served), "served": len(served),
        "signed_off_on_time": sum(1 for row in served if row[3] is not None and row[3] <= 7),
        "corrected": sum(1 for row in served if row[4]),
        "activities_held": len(team["activities"]),
        "hours": sum(row[2] for row in approved) / 60,
        "ratings": len(ratings),
        "average": round(sum(ratings) / len(ratings), 2) if ratings else None,
        "needs_done": team["needs_done"],
    }


def part(points: float, value: float, full: float) -> float:
    return points * min(value / full, 1)


def expected_scores(m: dict, weights=(30, 30, 40)) -> dict:
    foundation = round(part(40, m["members"], 20) + part(20, m["leaders"], 2)
                       + part(40, m["active_volunteers"], 30), 1)
    conduct = 0.0
    if m["attendances"]:
        conduct = 25 * (1 - m["no_shows"] / m["attendances"])
        if m["served"]:
            conduct += (50 * m["signed_off_on_time"] / m["served"]
                        + 25 * (1 - m["corrected"] / m["served"]))
    conduct = round(conduct, 1)
    performance = (part(25, m["activities_held"], 12) + part(25, m["hours"], 200)
                   + part(25, m["needs_done"], 3))
    if m["average"] is not None:
        performance += 25 * (m["average"] - 1) / 4
    performance = round(performance, 1)
    total = round((weights[0] * foundation + weights[1] * conduct
                   + weights[2] * performance) / 100, 1)
    return {"foundation": foundation, "conduct": conduct, "performance": performance,
            "total": total}


def test_the_plan_is_what_the_numbers_below_assume():
    """The hand-worked figures of team t1 (docs/voice.md walks through the same)."""
    m = expected_metrics(PLAN["t1"])
    assert (m["members"], m["leaders"], m["active_volunteers"]) == (5, 2, 3)
    assert (m["attendances"], m["served"], m["signed_off_on_time"], m["corrected"],
            m["no_shows"]) == (8, 7, 5, 1, 1)
    assert (m["activities_held"], m["hours"], m["ratings"], m["average"]) == (2, 9.0, 4, 3.75)
    assert expected_scores(m) == {"foundation": 34.0, "conduct": 79.0, "performance": 39.1,
                                  "total": 49.5}


# --- the seed ---------------------------------------------------------------------------------


def seed_year(app, make, world) -> dict[str, int]:
    """The plan in community A, plus what must not count: another year, a cancelled and a
    draft activity, a hidden rating, needs done in another year or not done, and a team of
    community B with the same kind of year."""
    residents = {f"r{n}": make.resident(world.a, f"居民{n}号").id for n in range(1, 10)}
    with app.app_context():
        teams = {}
        for key, team in PLAN.items():
            row = Team(community_id=world.a, name=f"队伍{key}", category=team["category"])
            db.session.add(row)
            db.session.flush()
            teams[key] = row.id
        db.session.commit()
    for key, team in PLAN.items():
        people = [make.member(teams[key], world.a, TeamRole.LEADER, "王队长")
                  for _ in range(team["leaders"])]
        people += [make.member(teams[key], world.a, TeamRole.MEMBER, "李队员")
                   for _ in range(team["members"])]
        with app.app_context():
            for member in db.session.scalars(select(TeamMember).where(
                    TeamMember.team_id == teams[key])):
                member.created_at = team["joined"]
            db.session.commit()
    with app.app_context():
        creator = world.staff_a.id
        for key, team in PLAN.items():
            for plan in team["activities"]:
                add_activity(teams[key], world.a, creator, plan, residents)
            add_needs(world.a, teams[key], team["needs_done"], creator, residents["r1"])
        t1 = teams["t1"]
        noise = {"attendances": [("r8", A, 60, 1, False)], "ratings": [("r8", 1, False)]}
        add_activity(t1, world.a, creator, {**noise, "start": local(2025, 7, 1, 9),
                                             "hours": 1}, residents,
                     status=ActivityStatus.CANCELLED)
        add_activity(t1, world.a, creator, {**noise, "start": local(2025, 8, 1, 9),
                                             "hours": 1}, residents,
                     status=ActivityStatus.DRAFT)
        add_activity(t1, world.a, creator, {**noise, "start": local(2024, 12, 31, 22),
                                             "hours": 1}, residents)
        add_activity(t1, world.a, creator, {**noise, "start": local(2026, 1, 1, 0, 30),
                                             "hours": 1}, residents)
        db.session.add(Need(community_id=world.a, author_id=residents["r1"], title="旧需求",
                            category=NeedCategory.OTHER, status=NeedStatus.DONE, team_id=t1,
                            triaged_at=local(2024, 12, 31, 12), triaged_by=creator))
        db.session.add(Need(community_id=world.a, author_id=residents["r1"], title="进行中",
                            category=NeedCategory.OTHER, status=NeedStatus.ACCEPTED,
                            team_id=t1, triaged_at=local(2025, 5, 1, 12), triaged_by=creator))
        add_activity(world.team_b, world.b, world.staff_b.id,
                     {**noise, "start": local(2025, 5, 1, 9), "hours": 2}, {
                         "r8": world.resident_b.id})
        db.session.commit()
    return teams


def add_activity(team_id: int, community_id: int, creator: int, plan: dict,
                 residents: dict[str, int], status=ActivityStatus.PUBLISHED) -> None:
    ends = plan["start"] + timedelta(hours=plan["hours"])
    activity = Activity(team_id=team_id, community_id=community_id, title="服务活动",
                        starts_at=plan["start"], ends_at=ends, capacity=30, status=status,
                        created_by=creator)
    db.session.add(activity)
    db.session.flush()
    for who, state, minutes, days, corrected in plan["attendances"]:
        db.session.add(Attendance(
            activity_id=activity.id, community_id=community_id, user_id=residents[who],
            status=AttendanceStatus(state), served_minutes=minutes, minutes=minutes,
            corrected_minutes=minutes if corrected else None,
            confirmed_by=creator if days is not None else None,
            confirmed_at=ends + timedelta(days=days) if days is not None else None))
    for who, rating, hidden in plan["ratings"]:
        db.session.add(Evaluation(activity_id=activity.id, user_id=residents[who],
                                  rating=rating, hidden=hidden))


def add_needs(community_id: int, team_id: int, done: int, staff_id: int, author: int) -> None:
    for n in range(done):
        db.session.add(Need(community_id=community_id, author_id=author, title=f"需求{n}",
                            category=NeedCategory.ELDERLY, status=NeedStatus.DONE,
                            team_id=team_id, triaged_by=staff_id,
                            triaged_at=local(2025, 4 + n, 15, 10)))


def evaluation(make, who, cid, **query):
    query = {"year": YEAR, **query}
    return make.call("GET", f"/api/v1/communities/{cid}/teams/evaluation", who,
                     query_string=query)


# --- the scores -------------------------------------------------------------------------------


def test_every_team_scored_from_its_metrics_and_ranked(app, make, world):
    teams = seed_year(app, make, world)
    response = evaluation(make, world.staff_a, world.a)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["year"] == YEAR
    assert body["weights"] == {"foundation": 30, "conduct": 30, "performance": 40}
    # world's own two teams of A have nothing on record: they tie with t3 and t4 at 0.
    assert body["total"] == len(PLAN) + 2
    by_team = {row["team_id"]: row for row in body["items"]}
    assert world.team_b not in by_team
    for key, plan in PLAN.items():
        row, m = by_team[teams[key]], expected_metrics(plan)
        assert row["name"] == f"队伍{key}" and row["category"] == plan["category"].value
        assert row["metrics"]["foundation"] == {
            "members": m["members"], "leaders": m["leaders"],
            "active_volunteers": m["active_volunteers"]}
        conduct = row["metrics"]["conduct"]
        assert {name: conduct[name] for name in ("attendances", "served", "no_shows",
                                                  "signed_off_on_time", "corrected")} == {
            name: m[name] for name in ("attendances", "served", "no_shows",
                                       "signed_off_on_time", "corrected")}
        performance = row["metrics"]["performance"]
        assert performance["activities_held"] == m["activities_held"]
        assert performance["volunteer_hours"] == pytest.approx(m["hours"], abs=0.05)
        assert (performance["ratings"], performance["average_rating"]) == (
            m["ratings"], m["average"])
        assert performance["needs_done"] == m["needs_done"]
        expected = expected_scores(m)
        for name, value in expected.items():
            assert row["scores"][name] == pytest.approx(value, abs=0.051), (key, name)
    ranked = [row["team_id"] for row in body["items"]]
    assert ranked[:2] == [teams["t1"], teams["t2"]]
    assert [row["rank"] for row in body["items"]] == [1, 2, 3, 3, 3, 3]


def test_rates_are_shown_beside_the_counts(app, make, world):
    teams = seed_year(app, make, world)
    row = next(r for r in evaluation(make, world.staff_a, world.a).get_json()["items"]
               if r["team_id"] == teams["t1"])
    conduct = row["metrics"]["conduct"]
    assert conduct["on_time_rate"] == pytest.approx(5 / 7, abs=1e-4)
    assert conduct["correction_rate"] == pytest.approx(1 / 7, abs=1e-4)
    assert conduct["no_show_rate"] == pytest.approx(1 / 8, abs=1e-4)
    assert conduct["sign_off_days"] == 7
    empty = next(r for r in evaluation(make, world.staff_a, world.a).get_json()["items"]
                 if r["team_id"] == teams["t3"])
    assert empty["metrics"]["conduct"]["on_time_rate"] is None
    assert empty["metrics"]["performance"]["average_rating"] is None
    assert empty["scores"] == {"foundation": 0, "conduct": 0, "performance": 0, "total": 0}


def test_another_year_counts_its_own_activities(app, make, world):
    teams = seed_year(app, make, world)
    body = evaluation(make, world.staff_a, world.a, year=2024).get_json()
    t1 = next(row for row in body["items"] if row["team_id"] == teams["t1"])
    # 2024 holds one activity (r8, 60 approved minutes) and one need done; members joined
    # in 2025 are not on record at the end of 2024.
    assert t1["metrics"]["performance"]["activities_held"] == 1
    assert t1["metrics"]["performance"]["volunteer_hours"] == 1.0
    assert t1["metrics"]["performance"]["needs_done"] == 1
    assert t1["metrics"]["foundation"]["members"] == 0
    assert t1["metrics"]["foundation"]["active_volunteers"] == 1


def test_pages_of_the_ranking(app, make, world):
    seed_year(app, make, world)
    first = evaluation(make, world.staff_a, world.a, per_page=2).get_json()
    second = evaluation(make, world.staff_a, world.a, per_page=2, page=2).get_json()
    assert (first["page"], first["per_page"], first["total"]) == (1, 2, 6)
    assert [row["rank"] for row in first["items"]] == [1, 2]
    assert [row["rank"] for row in second["items"]] == [3, 3]
    beyond = evaluation(make, world.staff_a, world.a, per_page=2, page=9).get_json()
    assert beyond["items"] == [] and beyond["total"] == 6


# --- weights ----------------------------------------------------------------------------------


def put_weights(make, who, **weights):
    return make.call("PUT", "/api/v1/street/assessment-weights", who, json=weights)


def test_weights_change_the_totals_and_are_audited_in_every_community(app, make, world):
    teams = seed_year(app, make, world)
    before = make.call("GET", "/api/v1/street/assessment-weights", world.admin).get_json()
    assert before["is_default"] is True
    assert (before["foundation"], before["conduct"], before["performance"]) == (30, 30, 40)
    response = put_weights(make, world.admin, foundation=10, conduct=80, performance=10,
                           reason="今年重内部规范")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["is_default"] is False
    assert response.get_json()["updated_by"] == world.admin.id
    body = evaluation(make, world.staff_a, world.a).get_json()
    assert body["weights"] == {"foundation": 10, "conduct": 80, "performance": 10}
    by_team = {row["team_id"]: row for row in body["items"]}
    for key in ("t1", "t2"):
        expected = expected_scores(expected_metrics(PLAN[key]), (10, 80, 10))
        assert by_team[teams[key]]["scores"]["total"] == pytest.approx(expected["total"],
                                                                      abs=0.051)
    # conduct now weighs most: t2 (87.5) passes t1 (79.0).
    assert [row["team_id"] for row in body["items"][:2]] == [teams["t2"], teams["t1"]]
    audit = make.call("GET", f"/api/v1/communities/{world.a}/audit", world.staff_a,
                      query_string={"action": "street.assessment_weights"}).get_json()
    assert audit["total"] == 1
    entry = audit["items"][0]
    assert entry["actor_id"] == world.admin.id and entry["reason"] == "今年重内部规范"
    assert entry["before"] == {"foundation": 30, "conduct": 30, "performance": 40}
    assert entry["after"] == {"foundation": 10, "conduct": 80, "performance": 10}
    with app.app_context():
        communities = set(db.session.scalars(select(AuditEntry.community_id).where(
            AuditEntry.action == "street.assessment_weights")))
    assert communities == {world.a, world.b}


def test_saving_the_same_weights_again_writes_no_audit_row(app, make, world):
    assert put_weights(make, world.admin, foundation=20, conduct=40,
                       performance=40).status_code == 200
    assert put_weights(make, world.admin, foundation=20, conduct=40,
                       performance=40).status_code == 200
    with app.app_context():
        assert len(db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "street.assessment_weights",
            AuditEntry.community_id == world.a)).all()) == 1


@pytest.mark.parametrize("body", [
    {"foundation": 30, "conduct": 30, "performance": 30},
    {"foundation": -10, "conduct": 60, "performance": 50},
    {"foundation": 30.5, "conduct": 29.5, "performance": 40},
    {"foundation": "30", "conduct": 30, "performance": 40},
    {"foundation": 30, "conduct": 70},
])
def test_weights_must_be_whole_percentages_summing_to_100(make, world, body):
    response = put_weights(make, world.admin, **body)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_error"
    current = make.call("GET", "/api/v1/street/assessment-weights", world.admin).get_json()
    assert (current["foundation"], current["conduct"], current["performance"]) == (30, 30, 40)


@pytest.mark.parametrize("role", ["staff_a", "leader_a", "resident_a", "outsider"])
def test_only_admins_read_or_set_the_weights(make, world, role):
    who = getattr(world, role)
    assert make.call("GET", "/api/v1/street/assessment-weights", who).status_code == 403
    refused = put_weights(make, who, foundation=1, conduct=1, performance=1)  # 403 first
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"
    assert make.call("GET", "/api/v1/street/assessment-weights").status_code == 401


# --- who may see it ---------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [
    ("staff_a", 200), ("admin", 200), ("staff_b", 404), ("leader_b", 404),
    ("resident_b", 404), ("outsider", 404), ("resident_a", 403), ("leader_a", 403),
    ("leader_a2", 403), ("anonymous", 401)])
def test_who_sees_a_communitys_assessment(make, world, role, status):
    who = None if role == "anonymous" else getattr(world, role)
    for suffix in ("", ".xlsx"):
        response = make.call("GET", f"/api/v1/communities/{world.a}/teams/evaluation{suffix}",
                             who, query_string={"year": YEAR})
        assert response.status_code == status, (suffix, response.data[:200])
        if status != 200:
            assert response.get_json()["error"]["code"] == {
                401: "unauthenticated", 403: "forbidden", 404: "not_found"}[status]


def test_admins_see_every_community(make, world):
    for cid, team in ((world.a, world.team_a), (world.b, world.team_b)):
        body = evaluation(make, world.admin, cid).get_json()
        assert team in {row["team_id"] for row in body["items"]}
    assert evaluation(make, world.admin, 9999).status_code == 404


def test_refusal_comes_before_the_query_is_judged(make, world):
    assert evaluation(make, world.resident_a, world.a, year="abc").status_code == 403
    assert evaluation(make, world.staff_b, world.a, year="abc").status_code == 404


@pytest.mark.parametrize("year", ["1999", "2101", "abc", "2025.5", ""])
def test_year_out_of_range_is_a_validation_error(make, world, year):
    response = evaluation(make, world.staff_a, world.a, year=year)
    assert response.status_code == 422
    body = response.get_json()["error"]
    assert body["code"] == "validation_error" and "year" in body["details"]["fields"]


def test_year_defaults_to_this_year(make, world):
    with make.app.app_context():
        this_year = today().year
    response = make.call("GET", f"/api/v1/communities/{world.a}/teams/evaluation",
                         world.staff_a)
    assert response.status_code == 200 and response.get_json()["year"] == this_year


# --- the workbook -----------------------------------------------------------------------------


def test_xlsx_holds_the_same_rows_with_text_cells_that_never_run(app, make, world):
    teams = seed_year(app, make, world)
    with app.app_context():
        db.session.get(Team, teams["t2"]).name = '=HYPERLINK("http://evil.example","点我")'
        db.session.commit()
    response = make.call("GET", f"/api/v1/communities/{world.a}/teams/evaluation.xlsx",
                         world.staff_a, query_string={"year": YEAR})
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert f"team-assessment-{world.a}-{YEAR}.xlsx" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:7] == ("排名", "队伍", "类别", "基本建设(30%)", "内部规范(30%)",
                           "业绩考量(40%)", "总分")
    api = evaluation(make, world.staff_a, world.a, per_page=100).get_json()["items"]
    assert len(rows) == 1 + len(api)
    for line, row in zip(rows[1:], api, strict=True):
        assert line[0] == row["rank"] and line[1] == row["name"]
        assert list(line[3:7]) == [row["scores"][k] for k in
                                   ("foundation", "conduct", "performance", "total")]
    evil = next(cell for cell in sheet["B"] if str(cell.value).startswith("=HYPERLINK"))
    assert evil.data_type == "s"  # a string cell: no spreadsheet evaluates it
    assert next(line for line in rows if line[1] == "队伍t1")[2] == "志愿服务"


@pytest.mark.postgres_only
def test_concurrent_first_saves_of_the_weights_all_answer(app, make, world, served):
    """Ten admins' first saves at once (no settings row yet): every one is 200, one row,
    the last writer's weights, and one audit row per community per actual change."""
    assert ON_POSTGRES
    bodies = [{"foundation": 10 * n, "conduct": 100 - 10 * n, "performance": 0}
              for n in range(10)]

    def save(body):
        def call():
            with requests.Session() as session:
                return session.put(f"{served}/street/assessment-weights", json=body,
                                   headers=world.admin.headers, timeout=60)
        return call

    responses = all_at_once([save(body) for body in bodies])
    assert [r.status_code for r in responses] == [200] * 10
    with app.app_context():
        rows = db.session.scalars(select(StreetSettings)).all()
        assert len(rows) == 1
        assert rows[0].weights in [{"foundation": b["foundation"], "conduct": b["conduct"],
                                    "performance": 0} for b in bodies]
        changes = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "street.assessment_weights",
            AuditEntry.community_id == world.a).order_by(AuditEntry.id)).all()
    # Each save saw the one before it: the chain of before → after has no gap.
    for earlier, later in zip(changes, changes[1:], strict=False):
        assert later.before == earlier.after
    assert changes[-1].after == rows[0].weights
