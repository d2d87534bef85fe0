"""Demo data for ``scripts/dev``: one community with staff, teams, residents, activities.

Idempotent: a second run finds the demo community and only prints the demo people again.
Log in as any of them through the mock platform: ``POST :8001/_mock/login-code
{"openid": "demo-resident"}`` → code → ``POST /api/v1/auth/wechat-login``.
"""

from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import select

from backend.activities.models import Activity, ActivityStatus, Signup
from backend.auth.models import User
from backend.checkin.models import Attendance
from backend.common.clock import LOCAL_TZ, now
from backend.communities.models import (
    Community,
    Resident,
    StaffMember,
    Team,
    TeamCategory,
    TeamMember,
    TeamRole,
)
from backend.extensions import db
from backend.gifts.models import Gift
from backend.parking.models import DutySettings, ShiftTemplate
from backend.voice.models import (
    ActivityBeneficiary,
    Evaluation,
    Need,
    NeedCategory,
    NeedStatus,
    NeedSupport,
)

COMMUNITY = ("幸福里社区", "和平街道")
PEOPLE = {  # openid: (nickname, real name or None, role)
    "demo-admin": ("街道管理员", None, "admin (LINLI_BOOTSTRAP_ADMIN_OPENIDS)"),
    "demo-staff": ("社工小李", None, "staff of 幸福里社区"),
    "demo-leader": ("王队长", "王大力", "leader of 志愿服务队"),
    "demo-parking-leader": ("赵队长", "赵小红", "leader of 车辆自治之家"),
    "demo-resident": ("张三明", "张三明", "resident"),
    "demo-neighbour-1": ("李阿姨", "李秀英", "resident"),
    "demo-neighbour-2": ("陈大爷", "陈建国", "resident"),
}


def seed() -> str:
    if db.session.scalar(select(Community).where(Community.name == COMMUNITY[0])) is None:
        _create_demo_world()
        db.session.commit()
    return describe()


def _create_demo_world() -> None:
    community = Community(name=COMMUNITY[0], street=COMMUNITY[1])
    db.session.add(community)
    users = {openid: User(openid=openid, nickname=nick)
             for openid, (nick, _, _) in PEOPLE.items()}
    db.session.add_all(users.values())
    db.session.flush()
    db.session.add(StaffMember(community_id=community.id, user_id=users["demo-staff"].id))
    for room, (openid, (_, real_name, _)) in enumerate(PEOPLE.items(), start=101):
        if real_name:
            db.session.add(Resident(user_id=users[openid].id, community_id=community.id,
                                    real_name=real_name, building="3", unit="1", room=str(room)))
    teams = {name: Team(community_id=community.id, name=name, category=category)
             for name, category in (("志愿服务队", TeamCategory.SERVICE),
                                    ("车辆自治之家", TeamCategory.PARKING),
                                    ("太极拳队", TeamCategory.CULTURE_SPORTS))}
    db.session.add_all(teams.values())
    db.session.flush()
    db.session.add_all([
        TeamMember(team_id=teams["志愿服务队"].id, user_id=users["demo-leader"].id,
                   role=TeamRole.LEADER),
        TeamMember(team_id=teams["车辆自治之家"].id, user_id=users["demo-parking-leader"].id,
                   role=TeamRole.LEADER),
    ])
    _demo_activities(community, teams["志愿服务队"], users)
    _demo_gifts(community)
    _demo_parking(teams["车辆自治之家"], users)
    _demo_voice(community, teams["志愿服务队"], users)


def _demo_gifts(community: Community) -> None:
    """A small points supermarket shelf (积分超市)."""
    db.session.add_all(Gift(community_id=community.id, name=name, description=description,
                            points_cost=cost, stock=stock, per_user_limit=limit)
                       for name, description, cost, stock, limit in (
                           ("抽纸", "一提三包", 10, 50, None),
                           ("洗车券", "小区门口洗车店，限本月", 30, 10, 1),
                           ("环保购物袋", "可折叠", 5, 100, 2)))


def _demo_parking(team: Team, users: dict[str, User]) -> None:
    """Three shifts a day (the night one crosses midnight) and a few members on duty."""
    for openid in ("demo-resident", "demo-neighbour-1", "demo-neighbour-2"):
        db.session.add(TeamMember(team_id=team.id, user_id=users[openid].id,
                                  role=TeamRole.MEMBER))
    for position, (name, start, end) in enumerate((("早班", 7, 15), ("中班", 15, 23),
                                                   ("夜班", 23, 7))):
        db.session.add(ShiftTemplate(team_id=team.id, position=position, name=name,
                                     start_time=time(start), end_time=time(end), needed=1))
    db.session.add(DutySettings(team_id=team.id, points_per_shift=5))


def _demo_activities(community: Community, team: Team, users: dict[str, User]) -> None:
    tomorrow_9 = (now().astimezone(LOCAL_TZ) + timedelta(days=1)).replace(
        hour=9, minute=0, second=0, microsecond=0)
    specs = [("社区清洁日", "小区花园", 0, 20, ActivityStatus.PUBLISHED),
             ("老年人智能手机课堂", "社区活动室", 2, 2, ActivityStatus.PUBLISHED),
             ("垃圾分类宣传", "3号楼门口", 4, 10, ActivityStatus.PUBLISHED),
             ("义诊（筹备中）", "社区卫生站", 6, 30, ActivityStatus.DRAFT)]
    for title, location, day, capacity, status in specs:
        starts = tomorrow_9 + timedelta(days=day)
        activity = Activity(team_id=team.id, community_id=community.id, title=title,
                            description=f"{title}，欢迎邻居们参加。", location=location,
                            starts_at=starts, ends_at=starts + timedelta(hours=2),
                            capacity=capacity, points_per_hour=10, status=status,
                            created_by=users["demo-leader"].id)
        db.session.add(activity)
        if capacity == 2:  # a full class, so that the demo resident lands on the waitlist
            db.session.flush()
            for openid in ("demo-neighbour-1", "demo-neighbour-2"):
                signup = Signup(activity_id=activity.id, user_id=users[openid].id)
                signup.confirm()
                db.session.add(signup)
            activity.confirmed_count = 2
    _demo_door(community, team, users)


def _demo_door(community: Community, team: Team, users: dict[str, User]) -> None:
    """An activity under way (to try the scan page) with every demo resident signed up, and
    one that ended yesterday with hours waiting for the leader and staff."""
    started = now() - timedelta(minutes=20)
    ended = now() - timedelta(days=1, hours=3)
    residents = ("demo-resident", "demo-neighbour-1", "demo-neighbour-2")
    for title, starts, walk_ins in (("楼道义务清扫（进行中）", started, True),
                                    ("关爱空巢老人探访（已结束）", ended, False)):
        activity = Activity(team_id=team.id, community_id=community.id, title=title,
                            description=f"{title}。", location="幸福里3号楼",
                            starts_at=starts, ends_at=starts + timedelta(hours=2),
                            capacity=20, confirmed_count=len(residents), points_per_hour=10,
                            walk_ins_allowed=walk_ins, self_checkin_allowed=walk_ins,
                            status=ActivityStatus.PUBLISHED, created_by=users["demo-leader"].id)
        db.session.add(activity)
        db.session.flush()
        for openid in residents:
            signup = Signup(activity_id=activity.id, user_id=users[openid].id)
            signup.confirm()
            db.session.add(signup)
    # Yesterday's visit: two came and left (with real check-in times), one is still open.
    for openid, minutes in (("demo-resident", 110), ("demo-neighbour-1", 95)):
        entry = ended + timedelta(minutes=5)
        db.session.add(Attendance(
            activity_id=activity.id, community_id=community.id, user_id=users[openid].id,
            checked_in_at=entry, checked_out_at=entry + timedelta(minutes=minutes),
            last_out_at=entry + timedelta(minutes=minutes), served_minutes=minutes,
            minutes=minutes))
    db.session.flush()
    db.session.execute(Signup.__table__.update().where(
        Signup.activity_id == activity.id,
        Signup.user_id.in_([users["demo-resident"].id, users["demo-neighbour-1"].id]))
        .values(checked_in_at=ended + timedelta(minutes=5)))


def _demo_voice(community: Community, team: Team, users: dict[str, User]) -> None:
    """The residents' voice: needs (one open with supporters, one accepted by the service
    team and served by yesterday's visit, one declined), the visit's beneficiaries and a
    rating of it. The demo resident is listed as served, so they can rate it straight away;
    staff can mark the accepted need done (the visit has ended). No new activity: the dev
    check counts the demo resident's activities."""

    staff = users["demo-staff"].id
    visit = db.session.scalar(select(Activity).where(
        Activity.community_id == community.id, Activity.title == "关爱空巢老人探访（已结束）"))
    specs = [("demo-neighbour-1", "小区缺少休息座椅", NeedCategory.ELDERLY, NeedStatus.OPEN,
              None, ["demo-neighbour-2", "demo-resident"]),
             ("demo-neighbour-2", "希望有人定期探访空巢老人", NeedCategory.ELDERLY,
              NeedStatus.ACCEPTED, "志愿服务队已承接，每月组织一次上门探访。",
              ["demo-neighbour-1"]),
             ("demo-resident", "希望开设夜间篮球场", NeedCategory.CULTURE, NeedStatus.DECLINED,
              "场地紧张，夜间开放会影响低楼层居民休息，暂不受理。", [])]
    for openid, title, category, status, reply, fans in specs:
        need = Need(community_id=community.id, author_id=users[openid].id, title=title,
                    description=f"{title}，请社区帮忙解决。", category=category, status=status,
                    supporters=1 + len(fans), reply=reply,
                    team_id=team.id if status == NeedStatus.ACCEPTED else None,
                    triaged_by=staff if reply else None, triaged_at=now() if reply else None)
        db.session.add(need)
        db.session.flush()
        db.session.add_all(NeedSupport(need_id=need.id, user_id=users[o].id)
                           for o in (openid, *fans))
        if status == NeedStatus.ACCEPTED and visit is not None:
            visit.need_id = need.id
    if visit is None:
        return
    db.session.add_all(ActivityBeneficiary(activity_id=visit.id, user_id=users[o].id)
                       for o in ("demo-neighbour-2", "demo-resident"))
    db.session.add(Evaluation(activity_id=visit.id, user_id=users["demo-neighbour-2"].id,
                              rating=5, comment="志愿者陪我聊了一下午，谢谢", hidden=False))


def describe() -> str:
    lines = ["demo people (log in with the mock: POST /_mock/login-code {\"openid\": ...}):"]
    lines += [f"  {openid:<22} {nick:<8} {role}" for openid, (nick, _, role) in PEOPLE.items()]
    return "\n".join(lines)
