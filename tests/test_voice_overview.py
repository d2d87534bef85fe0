"""The street overview (SPEC §9a): for admins, one row per community over a period. The
figures are checked against a count made here from the seed's own plan."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.activities.models import Activity, ActivityStatus
from backend.auth.models import User
from backend.checkin.models import Attendance, AttendanceStatus
from backend.common.clock import month_bounds, today
from backend.communities.models import Resident, Team, TeamCategory
from backend.extensions import db
from backend.points.models import Account, AccountKind, Transfer, TransferReason
from backend.voice.models import Need, NeedCategory, NeedStatus

LOCAL = ZoneInfo("Asia/Shanghai")
PUB, CANCELLED, DRAFT = ActivityStatus.PUBLISHED, ActivityStatus.CANCELLED, \
    ActivityStatus.DRAFT
A, P, N = AttendanceStatus.APPROVED, AttendanceStatus.CONFIRMED, AttendanceStatus.NO_SHOW
S, D, RD, RF = TransferReason.SERVICE, TransferReason.DUTY, TransferReason.REDEEM, \
    TransferReason.REFUND
OPEN = NeedStatus.OPEN


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL).astimezone(UTC)


# Per community: residents' join times; activities (start, hours, status, attendances as
# (resident index, status, minutes)); transfers (reason, amount, when, is a reversal);
# needs (status, raised at).
PLAN = {
    "东湖社区": {
        "residents": [local(2024, 5, 1, 9), local(2025, 2, 28, 23, 59), local(2025, 3, 31, 23),
                      local(2025, 4, 1, 0, 1), local(2025, 3, 10, 8)],
        "activities": [
            (local(2025, 3, 1, 0, 0), 2, PUB, [(0, A, 120), (1, A, 30), (2, P, 60), (3, N, 0)]),
            (local(2025, 3, 31, 23, 0), 2, PUB, [(0, A, 90), (4, A, 0)]),
            (local(2025, 4, 1, 0, 30), 2, PUB, [(1, A, 60)]),
            (local(2025, 2, 28, 23, 30), 1, PUB, [(2, A, 60)]),
            (local(2025, 3, 15, 9), 2, CANCELLED, [(3, A, 60)]),
            (local(2025, 3, 16, 9), 2, DRAFT, []),
        ],
        "points": [(S, 20, local(2025, 3, 2, 10), False), (D, 15, local(2025, 3, 31, 23, 59),
                                                           False),
                   (S, 20, local(2025, 3, 20, 10), True), (S, 7, local(2025, 4, 1, 0, 0), False),
                   (RD, 12, local(2025, 3, 5, 12), False), (RF, 4, local(2025, 3, 6, 12), False),
                   (RD, 9, local(2025, 2, 28, 23, 59), False),
                   (RD, 3, local(2025, 3, 7, 12), True)],
        "needs": [(OPEN, local(2025, 1, 5, 9)), (OPEN, local(2025, 3, 31, 22)),
                  (OPEN, local(2025, 4, 2, 9)), (NeedStatus.ACCEPTED, local(2025, 3, 1, 9)),
                  (NeedStatus.DONE, local(2025, 2, 1, 9))],
    },
    "西城社区": {
        "residents": [local(2025, 1, 1, 9), local(2025, 1, 2, 9)],
        "activities": [(local(2025, 3, 12, 14), 3, PUB, [(0, A, 180), (1, A, 150)]),
                       (local(2025, 3, 19, 14), 3, PUB, [(0, A, 170)])],
        "points": [(S, 50, local(2025, 3, 13, 10), False), (RD, 30, local(2025, 3, 14, 10),
                                                            False)],
        "needs": [(NeedStatus.DECLINED, local(2025, 3, 3, 9))],
    },
    "南苑社区": {"residents": [], "activities": [], "points": [], "needs": []},
}


def expected(first: date, last: date) -> dict[str, dict]:
    start = datetime.combine(first, datetime.min.time(), LOCAL).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(),
                           LOCAL).astimezone(UTC)
    figures = {}
    for name, plan in PLAN.items():
        held = [a for a in plan["activities"] if a[2] == PUB and start <= a[0] < end]
        served = [(who, minutes) for a in held for who, status, minutes in a[3]
                  if status == A and minutes > 0]
        in_period = [p for p in plan["points"] if start <= p[2] < end]
        sign = {True: -1, False: 1}
        figures[name] = {
            "residents": sum(1 for joined in plan["residents"] if joined < end),
            "activities_held": len(held),
            "active_volunteers": len({who for who, _ in served}),
            "volunteer_hours": round(sum(minutes for _, minutes in served) / 60, 1),
            "points_issued": sum(amount * sign[rev] for reason, amount, _, rev in in_period
                                 if reason in (S, D)),
            "points_redeemed": sum(amount * sign[rev] * (1 if reason == RD else -1)
                                   for reason, amount, _, rev in in_period
                                   if reason in (RD, RF)),
            "open_needs": sum(1 for status, raised in plan["needs"]
                              if status == NeedStatus.OPEN and raised < end),
        }
    return figures


def test_the_plan_is_what_the_numbers_below_assume():
    march = expected(date(2025, 3, 1), date(2025, 3, 31))["东湖社区"]
    assert march == {"residents": 4, "activities_held": 2, "active_volunteers": 2,
                     "volunteer_hours": 4.0, "points_issued": 15, "points_redeemed": 5,
                     "open_needs": 2}


@pytest.fixture
def street(app, make):
    admin = make.user("o-admin-street")
    ids = {name: make.community(name) for name in PLAN}
    with app.app_context():
        signers = [make.user().id, make.user().id]
        for name, plan in PLAN.items():
            seed_community(ids[name], plan, signers)
        db.session.commit()
    return admin, ids


def seed_community(cid: int, plan: dict, signers: list[int]) -> None:
    people = []
    for n, joined in enumerate(plan["residents"]):
        person = _user(f"o-{cid}-{n}")
        db.session.add(Resident(user_id=person, community_id=cid, real_name=f"居民{n}",
                                building="1", unit="1", room=str(n), joined_at=joined))
        people.append(person)
    team = Team(community_id=cid, name="服务队", category=TeamCategory.SERVICE)
    db.session.add(team)
    db.session.flush()
    for start, hours, status, attendances in plan["activities"]:
        activity = Activity(team_id=team.id, community_id=cid, title="活动", starts_at=start,
                            ends_at=start + timedelta(hours=hours), capacity=30,
                            status=status, created_by=signers[0])
        db.session.add(activity)
        db.session.flush()
        for who, state, minutes in attendances:
            db.session.add(Attendance(activity_id=activity.id, community_id=cid,
                                      user_id=people[who], status=state,
                                      served_minutes=minutes, minutes=minutes))
    seed_points(cid, plan["points"], people, signers)
    for n, (status, raised) in enumerate(plan["needs"]):
        db.session.add(Need(community_id=cid, author_id=people[0], title=f"需求{n}",
                            category=NeedCategory.OTHER, status=status, created_at=raised))


def seed_points(cid: int, points: list, people: list[int], signers: list[int]) -> None:
    """Rows straight into the ledger table (the overview only reads it): credits from the
    issued account, spending to the redeemed account, a reversal the other way round."""
    accounts = {kind: Account(community_id=cid, kind=kind) for kind in
                (AccountKind.ISSUED, AccountKind.REDEEMED)}
    if people:
        accounts[AccountKind.RESIDENT] = Account(community_id=cid, kind=AccountKind.RESIDENT,
                                                 user_id=people[0])
    db.session.add_all(accounts.values())
    db.session.flush()
    resident = accounts.get(AccountKind.RESIDENT)
    originals: dict[TransferReason, Transfer] = {}
    for n, (reason, amount, when, reversal) in enumerate(points):
        system = accounts[AccountKind.ISSUED if reason in (S, D) else AccountKind.REDEEMED]
        into_resident = reason in (S, D, RF)
        source, target = (system, resident) if into_resident else (resident, system)
        if reversal:
            source, target = target, source
        row = Transfer(community_id=cid, from_account_id=source.id, to_account_id=target.id,
                       amount=amount, reason=reason, ref=f"seed:{n}",
                       idempotency_key=f"overview-{cid}-{n}", from_balance_after=0,
                       to_balance_after=0, created_at=when,
                       prepared_by=signers[0], author_id=signers[1],
                       reverses_id=originals[reason].id if reversal else None)
        db.session.add(row)
        db.session.flush()
        originals.setdefault(reason, row)


def _user(openid: str) -> int:
    user = User(openid=openid, nickname="邻居")
    db.session.add(user)
    db.session.flush()
    return user.id


def overview(make, who, **query):
    return make.call("GET", "/api/v1/street/overview", who, query_string=query)


@pytest.mark.parametrize(("first", "last"), [
    (date(2025, 3, 1), date(2025, 3, 31)),
    (date(2025, 2, 1), date(2025, 4, 30)),
    (date(2025, 3, 31), date(2025, 3, 31)),
    (date(2024, 1, 1), date(2024, 12, 31)),
])
def test_every_community_counted_within_the_period(make, street, first, last):
    admin, ids = street
    response = overview(make, admin, **{"from": first.isoformat(), "to": last.isoformat()})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["from"], body["to"]) == (first.isoformat(), last.isoformat())
    assert body["total"] == len(PLAN)
    rows = {row["community_id"]: row for row in body["items"]}
    for name, figures in expected(first, last).items():
        row = rows[ids[name]]
        assert row["name"] == name
        assert {key: row[key] for key in figures} == figures, name


def test_pages_of_communities(make, street):
    admin, ids = street
    query = {"from": "2025-03-01", "to": "2025-03-31", "per_page": 2}
    first = overview(make, admin, **query).get_json()
    second = overview(make, admin, **query, page=2).get_json()
    assert (first["page"], first["per_page"], first["total"]) == (1, 2, 3)
    assert [row["community_id"] for row in first["items"] + second["items"]] == sorted(
        ids.values())
    assert second["items"][0]["residents"] == 0  # 南苑社区: nothing, every figure 0
    assert overview(make, admin, **query, page=5).get_json()["items"] == []


def test_period_defaults_to_this_month(make, street):
    admin, _ = street
    with make.app.app_context():
        first, last = month_bounds(today())
    body = overview(make, admin).get_json()
    assert (body["from"], body["to"]) == (first.isoformat(), last.isoformat())


@pytest.mark.parametrize("query", [
    {"from": "2025-03-31", "to": "2025-03-01"},
    {"from": "2025-13-01", "to": "2025-03-01"},
    {"from": "yesterday"},
    {"to": "1999-12-31"},
    {"per_page": 0},
    {"page": "x"},
])
def test_bad_periods_and_pages_are_validation_errors(make, street, query):
    admin, _ = street
    response = overview(make, admin, **query)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("role", ["staff_a", "leader_a", "resident_a", "outsider"])
def test_only_admins_see_the_overview(make, world, role):
    response = overview(make, getattr(world, role), **{"from": "bad"})  # 403 before 422
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_overview_needs_a_login(make):
    assert overview(make, None).status_code == 401
