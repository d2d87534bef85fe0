"""A parking team with shifts, for the parking tests."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

from backend.common.clock import LOCAL_TZ, now
from backend.communities.models import TeamCategory, TeamRole

THREE_SHIFTS = [{"name": "早班", "start": "07:00", "end": "15:00", "needed": 1},
                {"name": "中班", "start": "15:00", "end": "23:00", "needed": 1},
                {"name": "夜班", "start": "23:00", "end": "07:00", "needed": 1}]


def tomorrow() -> date:
    return now().astimezone(LOCAL_TZ).date() + timedelta(days=1)


def parking_team(make, world, members: int = 6, shifts=None, points: int = 5):
    p = SimpleNamespace(world=world)
    p.team = make.team(world.a, TeamCategory.PARKING)
    p.leader = make.member(p.team, world.a, TeamRole.LEADER, "赵小红")
    p.members = [make.member(p.team, world.a, real_name=f"队员{i}号") for i in range(members)]
    response = make.call("PUT", f"/api/v1/teams/{p.team}/shift-templates", p.leader,
                         json={"shifts": shifts or THREE_SHIFTS, "points_per_shift": points})
    assert response.status_code == 200, response.json
    return p


def roster(make, p, first: date, last: date, publish: bool = True) -> dict:
    response = make.call("POST", f"/api/v1/teams/{p.team}/rosters", p.leader,
                         json={"from": first.isoformat(), "to": last.isoformat()})
    assert response.status_code == 201, response.json
    body = response.json
    if publish:
        published = make.call("POST", f"/api/v1/rosters/{body['id']}/publish", p.leader)
        assert published.status_code == 200, published.json
        body = published.json
    return body
