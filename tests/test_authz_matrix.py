"""The authorisation matrix (SPEC §3, §11): every endpoint, every role, both communities.

Roles: ``admin`` (street), staff / leader / resident of community A and of community B,
``leader_a2`` (leads another team of A), ``outsider`` (logged in, no community) and
``anonymous``. A record of another community is a 404; a refusal in one's own is a 403.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.common.clock import now
from tests.parking_helpers import authz_scene
from tests.points_support import seed_points

ROLES = ["anonymous", "outsider", "admin", "staff_a", "staff_b", "leader_a", "leader_a2",
         "leader_b", "resident_a", "resident_b"]
OTHER_COMMUNITY = {"staff_b": 404, "leader_b": 404, "resident_b": 404, "outsider": 404}


def row(method, path, body=None, default=403, anonymous=401, **expected):
    return {"method": method, "path": path, "body": body,
            "expected": {role: expected.get(role, default) for role in ROLES}
            | {"anonymous": anonymous}}


MATRIX = {
    "create community": row("POST", "/communities", {"name": "新社区", "street": "和平街道"},
                            admin=201),
    "add staff": row("POST", "/communities/{a}/staff", {"user_id": "{outsider_id}"},
                     admin=201),
    "remove staff": row("DELETE", "/communities/{a}/staff/{spare_staff_id}", admin=204),
    "change community settings": row("PATCH", "/communities/{a}", {"noshow_limit": 4},
                                     admin=200, staff_a=200),
    "get community": row("GET", "/communities/{a}", default=200),
    "list communities": row("GET", "/communities", default=200),
    "join community": row("POST", "/communities/{a}/join",
                          {"real_name": "新居民", "building": "1", "unit": "1", "room": "101"},
                          default=201, resident_a=200, leader_a=200, leader_a2=200,
                          resident_b=409, leader_b=409),
    "create team": row("POST", "/communities/{a}/teams", {"name": "调解队",
                                                         "category": "mediation"},
                       staff_a=201),
    "list teams": row("GET", "/communities/{a}/teams", admin=200, staff_a=200,
                      leader_a=200, leader_a2=200, resident_a=200),
    "add team member": row("POST", "/teams/{team_a}/members",
                           {"user_id": "{resident_a_id}", "role": "member"},
                           staff_a=201, leader_a=201, **OTHER_COMMUNITY),
    "list team members": row("GET", "/teams/{team_a}/members", staff_a=200, leader_a=200,
                             **OTHER_COMMUNITY),
    "remove team member": row("DELETE", "/teams/{team_a}/members/{spare_member_id}",
                              staff_a=204, leader_a=204, **OTHER_COMMUNITY),
    "create activity": row("POST", "/teams/{team_a}/activities", "activity",
                           staff_a=201, leader_a=201, **OTHER_COMMUNITY),
    "list activities of A": row("GET", "/activities?community_id={a}", admin=200,
                                staff_a=200, leader_a=200, leader_a2=200, resident_a=200),
    "list my activities": row("GET", "/activities", default=200),
    "get published activity": row("GET", "/activities/{published}", default=200,
                                  **OTHER_COMMUNITY),
    "get draft activity": row("GET", "/activities/{draft}", default=404, admin=200,
                              staff_a=200, leader_a=200),
    "publish draft": row("POST", "/activities/{draft}/publish", default=404, admin=403,
                         staff_a=200, leader_a=200),
    "edit activity": row("PATCH", "/activities/{published}", {"capacity": 40}, staff_a=200,
                         leader_a=200, **OTHER_COMMUNITY),
    "cancel activity": row("POST", "/activities/{published}/cancel", staff_a=200,
                           leader_a=200, **OTHER_COMMUNITY),
    "sign up": row("POST", "/activities/{published}/signups", resident_a=201, leader_a=201,
                   leader_a2=201, **OTHER_COMMUNITY),
    "list signups": row("GET", "/activities/{published}/signups", staff_a=200, leader_a=200,
                        **OTHER_COMMUNITY),
    "cancel my signup": row("DELETE", "/activities/{held}/signups/me", default=404,
                            resident_a=200),
    "my signups": row("GET", "/me/signups", default=200),
    "me": row("GET", "/me", default=200),
    "log out": row("POST", "/auth/logout", default=204),
    "reconciliation of A": row("GET", "/communities/{a}/points/reconciliation?from=2026-11-01"
                               "&to=2026-11-30", staff_a=200),
    "request adjustment": row("POST", "/communities/{a}/points/adjustments",
                              {"user_id": "{resident_a_id}", "amount": 5, "reason": "补录"},
                              staff_a=201),
    "approve adjustment": row("POST", "/points/adjustments/{adjustment}/approve",
                              staff_a=200, **OTHER_COMMUNITY),
    "ledger CSV of A": row("GET", "/communities/{a}/points/ledger.csv?from=2026-11-01"
                           "&to=2026-11-30", staff_a=200),
    "ledger XLSX of A": row("GET", "/communities/{a}/points/ledger.xlsx?from=2026-11-01"
                            "&to=2026-11-30", staff_a=200),
    "close a month": row("POST", "/communities/{a}/points/periods/2026-10/close", staff_a=201),
    "my points": row("GET", "/me/points", default=200),
    "my statement": row("GET", "/me/points/entries", default=200),
    "list gifts of A": row("GET", "/communities/{a}/gifts", admin=200, staff_a=200,
                           leader_a=200, leader_a2=200, resident_a=200),
    "shelve a gift": row("POST", "/communities/{a}/gifts", {"name": "洗车券", "points_cost": 30,
                                                            "stock": 5}, staff_a=201),
    "restock a gift": row("PATCH", "/gifts/{gift}", {"stock": 20}, staff_a=200,
                          **OTHER_COMMUNITY),
    "redeem a gift": row("POST", "/gifts/{gift}/redemptions", {"quantity": 1},
                         resident_a=201, leader_a=201, leader_a2=201, **OTHER_COMMUNITY),
    "hand out by pickup code": row("POST", "/redemptions/fulfil",
                                   {"pickup_code": "{pickup_code}"}, default=404,
                                   staff_a=200),
    "cancel a redemption": row("POST", "/redemptions/{reservation}/cancel", default=404,
                               resident_a=200, staff_a=200),
    "pickup code QR": row("GET", "/redemptions/{reservation}/pickup-code.png", default=404,
                          resident_a=200),
    "my redemptions": row("GET", "/me/redemptions", default=200),
    "redemptions of A": row("GET", "/communities/{a}/redemptions", staff_a=200),
    "templates": row("GET", "/notifications/templates", default=200),
    "my notifications": row("GET", "/me/notifications", default=200),
    "read someone else's notification": row("POST", "/me/notifications/{notice}/read",
                                            default=404, resident_a=200),
    "my check-in code": row("GET", "/me/checkin-code", default=200),
    "my check-in code image": row("GET", "/me/checkin-code.png", default=200),
    "scan": row("POST", "/activities/{published}/scans",
                {"code": "x", "direction": "in", "scan_id": "m-1"}, staff_a=200, leader_a=200,
                **OTHER_COMMUNITY),
    "scan batch": row("POST", "/activities/{published}/scans/batch",
                      {"scans": [{"code": "x", "direction": "in", "scan_id": "m-2"}]},
                      staff_a=200, leader_a=200, **OTHER_COMMUNITY),
    "scanner kit": row("GET", "/activities/{published}/scanner-kit", staff_a=200,
                       leader_a=200, **OTHER_COMMUNITY),
    "poster code": row("GET", "/activities/{selfserve}/poster-code", staff_a=200,
                       leader_a=200, **OTHER_COMMUNITY),
    "self check-in": row("POST", "/me/checkins",
                         {"code": "x", "direction": "in", "scan_id": "m-3"}, default=200),
    "attendances of an activity": row("GET", "/activities/{published}/attendances",
                                      staff_a=200, leader_a=200, **OTHER_COMMUNITY),
    "attendances of a community": row("GET", "/communities/{a}/attendances", staff_a=200),
    "correct attendance": row("PATCH", "/attendances/{attendance}",
                              {"minutes": 10, "reason": "补签退"}, staff_a=200, leader_a=200,
                              **OTHER_COMMUNITY),
    "confirm hours": row("POST", "/activities/{ended}/attendances/confirm", leader_a=200,
                         staff_a=200, **OTHER_COMMUNITY),
    "approve hours": row("POST", "/attendances/approve", {"ids": ["{confirmed}"]},
                         staff_a=200, staff_b=404),
    "reject hours": row("POST", "/attendances/reject", {"ids": ["{confirmed}"],
                                                        "reason": "未参加"},
                        staff_a=200, staff_b=404),
    "my volunteer record": row("GET", "/me/volunteer-record", default=200),
    "issue certificate": row("POST", "/communities/{a}/certificates",
                             {"user_id": "{resident_a_id}"}, staff_a=201),
    "certificate pdf": row("GET", "/certificates/{certificate}.pdf", default=404,
                           staff_a=200, resident_a=200),
    "audit trail of A": row("GET", "/communities/{a}/audit", staff_a=200),
    "audit workbook of A": row("GET", "/communities/{a}/audit.xlsx", staff_a=200),
    "transfers of A": row("GET", "/communities/{a}/points/transfers", staff_a=200),
    "reversals of A": row("GET", "/communities/{a}/points/reversals", staff_a=200),
    "ask for a reversal": row("POST", "/points/transfers/{leader_credit}/reversals",
                              {"reason": "误记"}, staff_a=201, staff_b=404),
    "apply a reversal": row("POST", "/points/reversals/{reversal}/approve", staff_a=200,
                            staff_b=404),
    "verify certificate": row("GET", "/certificates/verify/ABCD-EFGH-JKMN-PQRS", default=200,
                              anonymous=200),
}
# Parking duty (SPEC §8): the parking team of A is led by leader_a (see authz_scene).
PARKING_MATRIX = {
    "set shift templates": row("PUT", "/teams/{parking}/shift-templates",
                               {"shifts": [{"name": "早班", "start": "07:00", "end": "15:00"}]},
                               staff_a=200, leader_a=200, **OTHER_COMMUNITY),
    "get shift templates": row("GET", "/teams/{parking}/shift-templates", staff_a=200,
                               leader_a=200, **OTHER_COMMUNITY),
    "set own availability": row("PUT", "/teams/{parking}/members/{leader_a_uid}/availability",
                                {"max_shifts_per_week": 5}, staff_a=200, leader_a=200,
                                **OTHER_COMMUNITY),
    "generate roster": row("POST", "/teams/{parking}/rosters", "roster", staff_a=201,
                           leader_a=201, **OTHER_COMMUNITY),
    "list team rosters": row("GET", "/teams/{parking}/rosters", staff_a=200, leader_a=200,
                             **OTHER_COMMUNITY),
    "get roster": row("GET", "/rosters/{roster}", staff_a=200, leader_a=200, admin=404,
                      **OTHER_COMMUNITY),
    "publish roster": row("POST", "/rosters/{draft_roster}/publish", staff_a=200, leader_a=200,
                          admin=404, **OTHER_COMMUNITY),
    "my shifts": row("GET", "/me/shifts", default=200),
    "teammates for a swap": row("GET", "/teams/{parking}/teammates?date=2026-12-01",
                                staff_a=200, leader_a=200, **OTHER_COMMUNITY),
    "edit assignment": row("PATCH", "/assignments/{shift2}", {"user_id": "{mate_id}"},
                           staff_a=200, leader_a=200, admin=404, **OTHER_COMMUNITY),
    "ask for a swap": row("POST", "/assignments/{shift2}/swap-requests",
                          {"to_user_id": "{mate_id}"}, leader_a=201, admin=404,
                          **OTHER_COMMUNITY),
    "accept a swap": row("POST", "/swap-requests/{swap}/accept", admin=404, **OTHER_COMMUNITY),
    "approve a swap": row("POST", "/swap-requests/{swap}/approve", staff_a=200, leader_a=200,
                          admin=404, **OTHER_COMMUNITY),
    "decline a swap": row("POST", "/swap-requests/{swap}/decline", staff_a=200, leader_a=200,
                          admin=404, **OTHER_COMMUNITY),
    "my swap requests": row("GET", "/me/swap-requests", default=200),
    "post code": row("GET", "/teams/{parking}/post-code", staff_a=200, leader_a=200,
                     **OTHER_COMMUNITY),
    "post code png": row("GET", "/teams/{parking}/post-code.png", staff_a=200, leader_a=200,
                         **OTHER_COMMUNITY),
    "duty check-in off duty": row("POST", "/duty/checkins", {"code": "post_code"}, default=409),
    "hand over with a bad code": row("POST", "/duty/handovers", {"code": "x"}, default=409),
    "set the post": row("PUT", "/teams/{parking}/post",
                        {"latitude": 30.5, "longitude": 114.3, "radius_m": 80}, staff_a=200,
                        leader_a=200, **OTHER_COMMUNITY),
    "rotate the post code": row("POST", "/teams/{parking}/post-code/rotate", staff_a=200,
                                leader_a=200, **OTHER_COMMUNITY),
    "sign off a month of duty": row("POST", "/teams/{parking}/duty/confirm",
                                    {"month": "2026-12"}, staff_a=200, leader_a=200,
                                    **OTHER_COMMUNITY),
    "served shifts of A": row("GET", "/communities/{a}/duty/shifts", staff_a=200),
    "approve duty not signed off": row("POST", "/duty/approve", {"ids": ["{shift}"]},
                                       staff_a=409, staff_b=404),
    "void a fee": row("POST", "/fees/{fee}/voids", {"reason": "误登记"}, staff_a=201,
                      leader_a=201, **OTHER_COMMUNITY),
    "record fee": row("POST", "/teams/{parking}/fees", {"plate": "京A12345", "period": "2026-12",
                      "amount": 50, "collected_by": "{leader_a_id}"}, staff_a=201, leader_a=201,
                      **OTHER_COMMUNITY),
    "list fees": row("GET", "/teams/{parking}/fees", staff_a=200, leader_a=200,
                     **OTHER_COMMUNITY),
    "subsidy report": row("GET", "/teams/{parking}/subsidies?month=2026-12", staff_a=200,
                          leader_a=200, **OTHER_COMMUNITY),
    "subsidy csv": row("GET", "/teams/{parking}/subsidies.csv?month=2026-12", staff_a=200,
                       leader_a=200, **OTHER_COMMUNITY),
    "subsidy xlsx": row("GET", "/teams/{parking}/subsidies.xlsx?month=2026-12", staff_a=200,
                        leader_a=200, **OTHER_COMMUNITY),
}
MATRIX |= PARKING_MATRIX
# The residents' voice (SPEC §9a): {need} was posted by resident_a; {ended} ended an hour
# ago with resident_a's confirmed attendance; {evaluation} is another resident's rating of it.
A_READERS = {"admin": 200, "staff_a": 200, "leader_a": 200, "leader_a2": 200,
             "resident_a": 200}
A_RESIDENTS = {"resident_a": 200, "leader_a": 200, "leader_a2": 200}
VOICE_MATRIX = {
    "post a need": row("POST", "/communities/{a}/needs", {"title": "路灯坏了",
                                                          "category": "safety"},
                       resident_a=201, leader_a=201, leader_a2=201, **OTHER_COMMUNITY),
    "list needs": row("GET", "/communities/{a}/needs?sort=supporters", default=404,
                      **A_READERS),
    "get a need": row("GET", "/needs/{need}", default=404, **A_READERS),
    "support a need": row("POST", "/needs/{need}/support", **A_RESIDENTS, **OTHER_COMMUNITY),
    "withdraw support": row("DELETE", "/needs/{need}/support", **A_RESIDENTS,
                            **OTHER_COMMUNITY),
    "triage a need": row("POST", "/needs/{need}/triage", {"status": "declined",
                                                         "reply": "暂不受理"},
                         staff_a=200, **OTHER_COMMUNITY),
    "set beneficiaries": row("PUT", "/activities/{ended}/beneficiaries",
                             {"user_ids": ["{resident_a_id}"]}, staff_a=200, leader_a=200,
                             **OTHER_COMMUNITY),
    "get beneficiaries": row("GET", "/activities/{ended}/beneficiaries", staff_a=200,
                             leader_a=200, **OTHER_COMMUNITY),
    "evaluate an activity": row("POST", "/activities/{ended}/evaluations",
                                {"rating": 5, "comment": "好"}, resident_a=201,
                                **OTHER_COMMUNITY),
    "evaluation summary": row("GET", "/activities/{ended}/evaluations/summary", default=200,
                              **OTHER_COMMUNITY),
    "hide an evaluation": row("POST", "/evaluations/{evaluation}/hide", {"reason": "辱骂"},
                              staff_a=200, **OTHER_COMMUNITY),
    "my pending evaluations": row("GET", "/me/evaluations/pending", default=200),
    "notice board": row("GET", "/communities/{a}/notice-board", default=404, **A_READERS),
}
MATRIX |= VOICE_MATRIX


@pytest.fixture
def scene(make, world, soon, app, request):
    from backend.extensions import db
    from backend.notify.services import notify

    world.published = make.activity(world.team_a)
    world.draft = make.activity(world.team_a, published=False)
    world.held = make.activity(world.team_a2, starts_at=now() + timedelta(days=5))
    assert make.call("POST", f"/api/v1/activities/{world.held}/signups",
                     world.resident_a).status_code == 201
    with app.app_context():
        notify(world.resident_a.id, "signup_confirmed", "测试", dedupe_key="matrix")
        db.session.commit()
        from backend.notify.models import Notification
        world.notice = db.session.query(Notification.id).filter_by(dedupe_key="matrix").scalar()
    world.selfserve = make.activity(world.team_a, self_checkin_allowed=True)
    world.ended = make.activity(world.team_a, starts_at=now() - timedelta(hours=3))
    with app.app_context():
        from backend.checkin.models import Attendance, AttendanceStatus
        rows = [Attendance(activity_id=world.published, community_id=world.a,
                           user_id=world.resident_a.id, status=AttendanceStatus.OPEN),
                Attendance(activity_id=world.ended, community_id=world.a,
                           user_id=world.resident_a.id, status=AttendanceStatus.CONFIRMED,
                           confirmed_by=world.leader_a.id, points_per_hour=10)]
        db.session.add_all(rows)
        db.session.commit()
        world.attendance, world.confirmed = rows[0].id, rows[1].id
    world.certificate = make.call("POST", f"/api/v1/communities/{world.a}/certificates",
                                  world.staff_a, json={"user_id": world.resident_a.id}
                                  ).get_json()["id"]
    world.gift, world.reservation, world.pickup_code = _gift_with_reservation(make, world, app)
    world.spare_staff_id = make.staff(world.a).id
    world.spare_member_id = make.member(world.team_a, world.a).id
    # Requested by another staff member of A: staff_a is the second pair of eyes.
    world.adjustment = make.call(
        "POST", f"/api/v1/communities/{world.a}/points/adjustments", make.staff(world.a),
        json={"user_id": world.resident_a.id, "amount": 5, "reason": "补录"}).json["id"]
    with app.app_context():
        from backend.points.models import Account, Transfer

        account = db.session.query(Account.id).filter_by(user_id=world.leader_a.id).scalar()
        world.leader_credit = db.session.query(Transfer.id).filter_by(
            to_account_id=account).scalar()
    world.reversal = make.call(
        "POST", f"/api/v1/points/transfers/{world.leader_credit}/reversals",
        make.staff(world.a), json={"reason": "误记"}).json["id"]
    if request.node.callspec.params.get("endpoint") in VOICE_MATRIX:
        _voice_scene(make, world, app)
    if request.node.callspec.params.get("endpoint") in PARKING_MATRIX:
        authz_scene(app, make, world)
        world.leader_a_uid = world.leader_a.id
    world.activity_body = {"title": "义诊", "starts_at": soon(days=3),
                           "ends_at": soon(days=3, hours=2), "capacity": 10}
    return world


def _voice_scene(make, world, app):
    from backend.checkin.models import Attendance, AttendanceStatus
    from backend.extensions import db

    world.need = make.call("POST", f"/api/v1/communities/{world.a}/needs", world.resident_a,
                           json={"title": "楼道灯坏了", "category": "safety"}).json["id"]
    rater = make.resident(world.a, "评价人")
    with app.app_context():
        db.session.add(Attendance(activity_id=world.ended, community_id=world.a,
                                  user_id=rater.id, status=AttendanceStatus.CONFIRMED,
                                  confirmed_by=world.leader_a.id, points_per_hour=10))
        db.session.commit()
    world.evaluation = make.call("POST", f"/api/v1/activities/{world.ended}/evaluations",
                                 rater, json={"rating": 1}).json["id"]


def _gift_with_reservation(make, world, app):
    from backend.extensions import db

    with app.app_context():
        for person in (world.resident_a, world.leader_a, world.leader_a2):
            seed_points(world.a, person.id, 100, f"matrix-{person.id}", ref="attendance:matrix")
        db.session.commit()
    gift = make.call("POST", f"/api/v1/communities/{world.a}/gifts", world.staff_a,
                     json={"name": "抽纸", "points_cost": 10, "stock": 10}).json
    reserved = make.call("POST", f"/api/v1/gifts/{gift['id']}/redemptions", world.resident_a,
                         json={"quantity": 1}).json
    return gift["id"], reserved["id"], reserved["pickup_code"]


def _fill(value, scene):
    if value == "activity":
        return scene.activity_body
    if value in ("roster", "post_code"):
        return getattr(scene, {"roster": "roster_body"}.get(value, value))
    if isinstance(value, dict):
        return {k: _fill(v, scene) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, scene) for v in value]
    if isinstance(value, str) and value.startswith("{") and hasattr(scene, value[1:-1]):
        return getattr(scene, value[1:-1])
    if isinstance(value, str) and value.startswith("{") and value.endswith("_id}"):
        return getattr(scene, value[1:-4]).id
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return getattr(scene, value[1:-1])
    return value


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(MATRIX))
def test_authorisation_matrix(make, scene, endpoint, role):
    spec = MATRIX[endpoint]
    path = "/api/v1" + spec["path"].format(**{k: v for k, v in vars(scene).items()
                                              if isinstance(v, int)})
    who = None if role == "anonymous" else getattr(scene, role)
    kwargs = {"json": _fill(spec["body"], scene)} if spec["body"] is not None else {}
    response = make.call(spec["method"], path, who, **kwargs)
    assert response.status_code == spec["expected"][role], response.json
    if response.status_code >= 400:
        assert set(response.json["error"]) == {"code", "message", "details"}
