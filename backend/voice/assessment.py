"""The yearly team assessment (动态评价, SPEC §9a): per team and year, metrics on the three
dimensions the street judges — basic construction (基本建设), internal norms (内部规范) and
performance (业绩考量) — a 0–100 score per dimension computed from them, the weighted
total and a rank. Every score is a documented formula of the metrics shown beside it
(docs/voice.md, "The street's view").

The year is the community's calendar year (Asia/Shanghai). An activity counts for the year
it started in, once it has ended and unless it was cancelled or never published. The
metrics come from one grouped query each over the community's teams, never one per team.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Index, Select, case, distinct, func, literal_column, select

from backend.activities.models import Activity, ActivityStatus
from backend.auth.models import User
from backend.auth.services import is_admin
from backend.checkin.models import Attendance, AttendanceStatus
from backend.common.clock import local_midnight, now
from backend.common.replica import report_reads
from backend.communities.access import can_see_community, is_staff_of
from backend.communities.models import Team, TeamMember, TeamRole
from backend.communities.services import get_community
from backend.extensions import db
from backend.refusals import FORBIDDEN, NOT_FOUND
from backend.voice.models import Evaluation, Need, NeedStatus
from backend.voice.street_settings import DIMENSIONS, assessment_weights

# The ratings of a community's activities read from the index alone (created by migration
# 0011; declared here so that the models and the migrated schema agree).
ASSESSMENT_INDEXES = (
    Index("ix_evaluations_activity_hidden_rating", Evaluation.activity_id, Evaluation.hidden,
          Evaluation.rating),
)

# Leader sign-off of hours counts as on time up to this many days after the activity ends.
SIGN_OFF_DAYS = 7


@dataclass(frozen=True)
class Target:
    """``points`` of the dimension's 100 are earned in full at ``full`` (linear below)."""

    points: float
    full: float

    def score(self, value: float) -> float:
        return self.points * min(value / self.full, 1.0) if value > 0 else 0.0


# 基本建设: members and leaders on record at the end of the year, distinct volunteers.
FOUNDATION = {"members": Target(40, 20), "leaders": Target(20, 2),
              "active_volunteers": Target(40, 30)}
# 业绩考量: activities held, approved hours, needs done; the rating scores 25 × (avg − 1) / 4.
PERFORMANCE = {"activities_held": Target(25, 12), "volunteer_hours": Target(25, 200),
               "needs_done": Target(25, 3)}
RATING_POINTS = 25
# 内部规范: 50 × on-time sign-off rate + 25 × (1 − correction rate) + 25 × (1 − no-show rate).
ON_TIME_POINTS, CORRECTION_POINTS, NO_SHOW_POINTS = 50, 25, 25


def require_assessment_reader(user: User, community_id: int) -> None:
    """Staff of the community or an admin; anyone else of it 403, outsiders 404."""
    get_community(community_id)
    if can_see_community(user, community_id):
        if not (is_staff_of(user, community_id) or is_admin(user)):
            raise FORBIDDEN.saying("仅本社区工作人员或街道管理员可以查看队伍评价")
        return
    raise NOT_FOUND.saying("找不到该社区")


def year_bounds(year: int) -> tuple[datetime, datetime]:
    return local_midnight(date(year, 1, 1)), local_midnight(date(year + 1, 1, 1))


def assess_teams(actor: User, community_id: int, year: int) -> dict[str, Any]:
    """Every team of the community, scored and ranked for ``year`` (best first)."""
    require_assessment_reader(actor, community_id)
    weights = assessment_weights()
    teams = list(db.session.scalars(
        select(Team).where(Team.community_id == community_id).order_by(Team.id)))
    metrics = team_metrics(community_id, year)
    rows = [_row(team, metrics.get(team.id, {}), weights) for team in teams]
    rank_rows(rows)
    return {"year": year, "weights": weights, "rows": rows}


def rank_rows(rows: list[dict[str, Any]]) -> None:
    """Best total first; equal totals share a rank (1, 2, 2, 4), then team id order."""
    rows.sort(key=lambda row: (-row["scores"]["total"], row["team_id"]))
    for position, row in enumerate(rows, start=1):
        previous = rows[position - 2] if position > 1 else None
        same = previous is not None and previous["scores"]["total"] == row["scores"]["total"]
        row["rank"] = previous["rank"] if same else position


def _row(team: Team, raw: dict[str, Any], weights: dict[str, int]) -> dict[str, Any]:
    metrics = {"foundation": foundation_metrics(raw), "conduct": conduct_metrics(raw),
               "performance": performance_metrics(raw)}
    scores = {"foundation": foundation_score(metrics["foundation"]),
              "conduct": conduct_score(metrics["conduct"]),
              "performance": performance_score(metrics["performance"])}
    scores["total"] = round(sum(weights[name] * scores[name] for name in DIMENSIONS) / 100, 1)
    return {"team_id": team.id, "name": team.name, "category": team.category,
            "scores": scores, "metrics": metrics}


# --- the metrics ------------------------------------------------------------------------------


def foundation_metrics(raw: dict[str, Any]) -> dict[str, Any]:
    return {"members": raw.get("members", 0), "leaders": raw.get("leaders", 0),
            "active_volunteers": raw.get("active_volunteers", 0)}


def conduct_metrics(raw: dict[str, Any]) -> dict[str, Any]:
    rows, no_shows = raw.get("attendances", 0), raw.get("no_shows", 0)
    served = rows - no_shows
    on_time, corrected = raw.get("on_time", 0), raw.get("corrected", 0)
    return {"attendances": rows, "served": served, "signed_off_on_time": on_time,
            "corrected": corrected, "no_shows": no_shows,
            "on_time_rate": _rate(on_time, served), "correction_rate": _rate(corrected, served),
            "no_show_rate": _rate(no_shows, rows), "sign_off_days": SIGN_OFF_DAYS}


def performance_metrics(raw: dict[str, Any]) -> dict[str, Any]:
    ratings = raw.get("ratings", 0)
    average = round(raw["rating_sum"] / ratings, 2) if ratings else None
    return {"activities_held": raw.get("activities_held", 0),
            "volunteer_hours": round(raw.get("minutes", 0) / 60, 1),
            "ratings": ratings, "average_rating": average,
            "needs_done": raw.get("needs_done", 0)}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- the scores -------------------------------------------------------------------------------


def foundation_score(m: dict[str, Any]) -> float:
    return round(sum(target.score(m[name]) for name, target in FOUNDATION.items()), 1)


def conduct_score(m: dict[str, Any]) -> float:
    """From the counts (not the rounded rates). No attendance on record is no evidence: 0;
    with no row served (all no-shows) the on-time and correction parts score 0."""
    rows, served = m["attendances"], m["served"]
    if not rows:
        return 0.0
    score = NO_SHOW_POINTS * (1 - m["no_shows"] / rows)
    if served:
        score += ON_TIME_POINTS * m["signed_off_on_time"] / served
        score += CORRECTION_POINTS * (1 - m["corrected"] / served)
    return round(score, 1)


def performance_score(m: dict[str, Any]) -> float:
    score = sum(target.score(m[name]) for name, target in PERFORMANCE.items())
    if m["average_rating"] is not None:
        score += RATING_POINTS * (m["average_rating"] - 1) / 4
    return round(score, 1)


# --- the queries: one grouped query per source, over the community's teams --------------------


def team_metrics(community_id: int, year: int) -> dict[int, dict[str, Any]]:
    """Raw counts per team id for ``year``."""
    start, end = year_bounds(year)
    held = held_activities(start, end).where(Activity.community_id == community_id).subquery()
    raw: dict[int, dict[str, Any]] = {}
    for query in (_members(community_id, end), _attendance(held, community_id), _ratings(held),
                  _activities(held), _needs(community_id, start, end)):
        for row in db.session.execute(query).mappings():
            raw.setdefault(row["team_id"], {}).update(
                {key: value or 0 for key, value in row.items() if key != "team_id"})
    return raw


def held_activities(start: datetime, end: datetime) -> Select:
    """Activities that started in [start, end), were published and have ended."""
    return (select(Activity.id, Activity.team_id, Activity.community_id, Activity.ends_at)
            .where(Activity.status == ActivityStatus.PUBLISHED,
                   Activity.starts_at >= start, Activity.starts_at < end,
                   Activity.ends_at <= now()))


def _members(community_id: int, end: datetime) -> Select:
    leader = case((TeamMember.role == TeamRole.LEADER, 1), else_=0)
    return (select(TeamMember.team_id, func.count().label("members"),
                   func.sum(leader).label("leaders"))
            .join(Team, Team.id == TeamMember.team_id)
            .where(Team.community_id == community_id, TeamMember.created_at < end)
            .group_by(TeamMember.team_id))


def _attendance(held, community_id: int) -> Select:
    # The community's rows once (ix_attendances_community_status), then joined to its held
    # activities: left to itself the planner either scans the whole table or repeats a
    # bitmap AND of two indexes for every activity. MATERIALIZED keeps it a separate step.
    rows = (select(Attendance.activity_id, Attendance.user_id, Attendance.status,
                   Attendance.minutes, Attendance.confirmed_at, Attendance.corrected_minutes)
            .where(Attendance.community_id == community_id)
            .cte("community_attendances").prefix_with("MATERIALIZED", dialect="postgresql"))
    approved = rows.c.status == AttendanceStatus.APPROVED
    no_show = rows.c.status == AttendanceStatus.NO_SHOW
    on_time = (~no_show & rows.c.confirmed_at.is_not(None)
               & (rows.c.confirmed_at <= _days_after(held.c.ends_at, SIGN_OFF_DAYS)))
    corrected = ~no_show & rows.c.corrected_minutes.is_not(None)
    return (select(held.c.team_id, func.count().label("attendances"),
                   _count_if(no_show).label("no_shows"), _count_if(on_time).label("on_time"),
                   _count_if(corrected).label("corrected"),
                   func.sum(case((approved, rows.c.minutes), else_=0)).label("minutes"),
                   func.count(distinct(case((approved & (rows.c.minutes > 0),
                                             rows.c.user_id))))
                   .label("active_volunteers"))
            .select_from(rows)
            .join(held, held.c.id == rows.c.activity_id)
            .group_by(held.c.team_id))


def _ratings(held) -> Select:
    return (select(held.c.team_id, func.count().label("ratings"),
                   func.sum(Evaluation.rating).label("rating_sum"))
            .join(held, held.c.id == Evaluation.activity_id)
            .where(Evaluation.hidden.is_(False))
            .group_by(held.c.team_id))


def _activities(held) -> Select:
    return select(held.c.team_id, func.count().label("activities_held")).group_by(held.c.team_id)


def _needs(community_id: int, start: datetime, end: datetime) -> Select:
    """Needs the team took on and that staff marked done during the year."""
    return (select(Need.team_id, func.count().label("needs_done"))
            .where(Need.community_id == community_id, Need.status == NeedStatus.DONE,
                   Need.team_id.is_not(None), Need.triaged_at >= start, Need.triaged_at < end)
            .group_by(Need.team_id))


def _count_if(condition) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _days_after(column, days: int) -> Any:
    """``column`` + ``days`` days in SQL (UTC timestamps stored naive on both databases)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column + literal_column(f"interval '{int(days)} days'")
    # SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff"; this keeps the same shape to compare.
    return func.strftime("%Y-%m-%d %H:%M:%f000", column, f"+{int(days)} days")


# --- the page and the workbook ----------------------------------------------------------------


@report_reads  # one snapshot on the replica when it keeps up
def assessment_page(actor: User, community_id: int, year: int, page: int,
                    per_page: int) -> dict[str, Any]:
    """One page of the ranking (SPEC §2 pagination), with the year and the weights used."""
    assessed = assess_teams(actor, community_id, year)
    rows = assessed["rows"]
    first = (page - 1) * per_page
    return {"items": rows[first:first + per_page], "page": page, "per_page": per_page,
            "total": len(rows), "year": year, "weights": assessed["weights"]}


CATEGORY_NAMES = {"service": "志愿服务", "charity": "公益慈善", "culture_sports": "文体",
                  "mediation": "调解", "parking": "车辆自治"}
XLSX_HEADER = ["排名", "队伍", "类别", "基本建设", "内部规范", "业绩考量", "总分",
               "成员", "队长", "活跃志愿者", "考勤记录", "按时确认", "更正", "未到",
               "按时确认率", "更正率", "未到率", "活动场次", "服务时长(小时)", "评价数",
               "平均评分", "完成需求"]


@report_reads  # one snapshot on the replica when it keeps up
def assessment_rows(actor: User, community_id: int, year: int) -> list[list[Any]]:
    """The ranking as spreadsheet rows (header first); cells are sanitised on writing."""
    assessed = assess_teams(actor, community_id, year)
    weights = assessed["weights"]
    header = [*XLSX_HEADER]
    header[3:6] = [f"{name}({weights[key]}%)" for name, key
                   in zip(header[3:6], DIMENSIONS, strict=True)]
    lines: list[list[Any]] = [header]
    for row in assessed["rows"]:
        f, c, p = (row["metrics"][name] for name in DIMENSIONS)
        s = row["scores"]
        lines.append([row["rank"], row["name"], CATEGORY_NAMES.get(row["category"],
                                                                   str(row["category"])),
                      s["foundation"], s["conduct"], s["performance"], s["total"],
                      f["members"], f["leaders"], f["active_volunteers"], c["attendances"],
                      c["signed_off_on_time"], c["corrected"], c["no_shows"],
                      c["on_time_rate"], c["correction_rate"], c["no_show_rate"],
                      p["activities_held"], p["volunteer_hours"], p["ratings"],
                      p["average_rating"], p["needs_done"]])
    return lines
