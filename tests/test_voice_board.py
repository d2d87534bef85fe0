"""The notice board (公示, SPEC §9a) through HTTP: the last closed month's points, the
ratings of recently ended activities and the answered needs — aggregates and masked names."""

from __future__ import annotations

from datetime import date, timedelta

import time_machine

from backend.common.clock import local_midnight, now
from backend.extensions import db
from backend.points.ledger import account_for, transfer
from backend.points.models import AccountKind, TransferReason
from tests.points_support import seed_points
from tests.voice_support import API, attend, post_need, triage


def board(make, person, community_id):
    return make.call("GET", f"{API}/communities/{community_id}/notice-board", person)


def _month_before(day: date) -> date:
    first = day.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def test_points_of_the_last_closed_month(app, make, world):
    assert board(make, world.resident_a, world.a).json["points"] is None
    this_month = now().date().replace(day=1)
    last, earlier = _month_before(this_month), _month_before(_month_before(this_month))
    for month, amount in ((earlier, 7), (last, 40)):
        with time_machine.travel(local_midnight(month) + timedelta(days=2)), app.app_context():
            seed_points(world.a, world.resident_a.id, amount, f"board-{month}")
            seed_points(world.b, world.resident_b.id, 999, f"board-b-{month}")
            resident = account_for(world.a, AccountKind.RESIDENT, world.resident_a.id)
            spent = account_for(world.a, AccountKind.REDEEMED)
            transfer(resident, spent, 5, TransferReason.REDEEM, "redemption:1", f"r-{month}")
            transfer(spent, resident, 2, TransferReason.REFUND, "redemption:1", f"f-{month}")
            db.session.commit()
    for month in (earlier, last):
        closed = make.call("POST", f"{API}/communities/{world.a}/points/periods/"
                           f"{month:%Y-%m}/close", world.staff_a)
        assert closed.status_code == 201, closed.json
    shown = board(make, world.resident_a, world.a).json
    assert shown["community_id"] == world.a
    assert shown["points"] == {"month": f"{last:%Y-%m}", "issued": 40, "redeemed": 3}


def test_recently_ended_activities_with_their_ratings(app, make, world):
    recent = make.activity(world.team_a, title="义务理发", starts_at=now() - timedelta(days=2),
                           ends_at=now() - timedelta(days=2) + timedelta(hours=2))
    make.activity(world.team_a, title="很久以前", starts_at=now() - timedelta(days=40),
                  ends_at=now() - timedelta(days=40) + timedelta(hours=2))
    make.activity(world.team_a, title="还没开始")
    make.activity(world.team_b, title="别的社区", starts_at=now() - timedelta(days=1),
                  ends_at=now() - timedelta(hours=20))
    for name, rating in (("甲一", 5), ("乙二", 3)):
        person = make.resident(world.a, name)
        attend(app, recent, world.a, person)
        make.call("POST", f"{API}/activities/{recent}/evaluations", person,
                  json={"rating": rating, "comment": "点评内容"})
    shown = board(make, world.staff_a, world.a).json["activities"]
    assert len(shown) == 1
    row = shown[0]
    assert row["activity_id"] == recent and row["title"] == "义务理发" and row["team_name"]
    assert row["count"] == 2 and row["average"] == 4.0
    assert row["distribution"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}
    assert "comments" not in row and "点评内容" not in str(shown)  # aggregates only


def test_answered_needs_with_replies_and_masked_authors(make, world):
    answered = post_need(make, world, title="增设快递柜")
    post_need(make, world, title="还没处理")
    triage(make, world, answered["id"], "accepted", team_id=world.team_a,
           reply="已联系快递公司，下月安装")
    needs = board(make, world.resident_a, world.a).json["needs"]
    assert [n["title"] for n in needs] == ["增设快递柜"]
    row = needs[0]
    assert row["status"] == "accepted" and row["reply"] == "已联系快递公司，下月安装"
    assert row["author"] == "张*明" and row["supporters"] == 1 and row["team_name"]
    assert "张三明" not in str(needs)


def test_who_reads_the_board(make, world):
    for person in (world.resident_a, world.leader_a, world.staff_a, world.admin):
        assert board(make, person, world.a).status_code == 200
    for person in (world.resident_b, world.staff_b, world.outsider):
        assert board(make, person, world.a).status_code == 404
    assert board(make, world.resident_a, 999).status_code == 404
