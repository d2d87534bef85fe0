"""A parking team with shifts, for the parking tests."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

from backend.common.clock import LOCAL_TZ, now
from backend.communities.models import TeamCategory, TeamMember, TeamRole

THREE_SHIFTS = [{"name": "早班", "start": "07:00", "end": "15:00", "needed": 1},
                {"name": "中班", "start": "15:00", "end": "23:00", "needed": 1},
                {"name": "夜班", "start": "23:00", "end": "07:00", "needed": 1}]


def tomorrow() -> date:
    return now().astimezone(LOCAL_TZ).date() + timedelta(days=1)


# Where the test teams' parking post stands (WGS-84), and a spot 300 m north of it.
POST = {"latitude": 30.59276, "longitude": 114.30525}
AWAY = {"latitude": 30.59546, "longitude": 114.30525}


def parking_team(make, world, members: int = 6, shifts=None, points: int = 5):
    """A parking team of community A: its shifts (the leader's), points per shift (a staff
    setting) and its post's location."""
    p = SimpleNamespace(world=world)
    p.team = make.team(world.a, TeamCategory.PARKING)
    p.leader = make.member(p.team, world.a, TeamRole.LEADER, "赵小红")
    p.members = [make.member(p.team, world.a, real_name=f"队员{i}号") for i in range(members)]
    response = make.call("PUT", f"/api/v1/teams/{p.team}/shift-templates", p.leader,
                         json={"shifts": shifts or THREE_SHIFTS})
    assert response.status_code == 200, response.json
    response = make.call("PUT", f"/api/v1/teams/{p.team}/shift-templates", world.staff_a,
                         json={"shifts": shifts or THREE_SHIFTS, "points_per_shift": points})
    assert response.status_code == 200, response.json
    response = make.call("PUT", f"/api/v1/teams/{p.team}/post", p.leader,
                         json={**POST, "radius_m": 100})
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


def authz_scene(app, make, world) -> None:
    """For the authorisation matrix: a parking team of community A led by ``leader_a``
    (with one more member, ``mate``), a published roster whose two shifts are the
    leader's (one with an accepted swap to the mate), a draft roster, and the post code."""
    from backend.extensions import db
    from backend.parking.models import Assignment

    world.parking = make.team(world.a, TeamCategory.PARKING)
    make._save(TeamMember(team_id=world.parking, user_id=world.leader_a.id,
                          role=TeamRole.LEADER))
    world.mate = make.member(world.parking, world.a, real_name="钱多多")
    make.call("PUT", f"/api/v1/teams/{world.parking}/shift-templates", world.staff_a,
              json={"shifts": [{"name": "早班", "start": "07:00", "end": "15:00"}],
                    "points_per_shift": 3})
    make.call("PUT", f"/api/v1/teams/{world.parking}/post", world.leader_a,
              json={**POST, "radius_m": 100})
    p = SimpleNamespace(team=world.parking, leader=world.leader_a)
    first = tomorrow() + timedelta(days=1)
    body = roster(make, p, first, first + timedelta(days=1), publish=False)
    world.shift, world.shift2 = [a["id"] for a in body["assignments"] + body["unfilled"]]
    with app.app_context():
        for aid in (world.shift, world.shift2):
            db.session.get(Assignment, aid).user_id = world.leader_a.id
        db.session.commit()
    world.roster = make.call("POST", f"/api/v1/rosters/{body['id']}/publish",
                             world.leader_a).json["id"]
    world.swap = make.call("POST", f"/api/v1/assignments/{world.shift}/swap-requests",
                           world.leader_a, json={"to_user_id": world.mate.id}).json["id"]
    assert make.call("POST", f"/api/v1/swap-requests/{world.swap}/accept",
                     world.mate).status_code == 200
    later = first + timedelta(days=5)
    world.draft_roster = roster(make, p, later, later, publish=False)["id"]
    world.post_code = make.call("GET", f"/api/v1/teams/{world.parking}/post-code",
                                world.leader_a).json["code"]
    world.roster_body = {"from": later.isoformat(), "to": later.isoformat()}
    world.fee = make.call("POST", f"/api/v1/teams/{world.parking}/fees", world.leader_a,
                          json={"plate": "鄂A99999", "period": f"{first:%Y-%m}",
                                "amount": "30.00"}).json["id"]
