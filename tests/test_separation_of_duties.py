"""Nobody mints points alone (SPEC §3, §5, §6): each abuse path of issue 14, refused,
beside the honest path that still works."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from types import SimpleNamespace

import pytest
import time_machine

from backend.common.audit import AuditEntry
from backend.common.clock import LOCAL_TZ
from backend.extensions import db
from backend.notify.models import Notification
from backend.parking.models import Assignment
from backend.points.models import Transfer
from tests.checkin_support import personal_code, scan
from tests.parking_helpers import AWAY, POST, parking_team, roster, tomorrow

# 09:00 local, three days ahead.
START = (datetime.now(LOCAL_TZ) + timedelta(days=3)).replace(
    hour=9, minute=0, second=0, microsecond=0).astimezone(UTC)
EARLY_SHIFT = [{"name": "早班", "start": "07:00", "end": "15:00", "needed": 1}]


def activity_body(starts, minutes=60, **fields):
    return {"title": "楼道清扫", "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(minutes=minutes)).isoformat(), "capacity": 10,
            **fields}


def attendances(make, who, activity):
    return make.call("GET", f"/api/v1/activities/{activity}/attendances", who).json["items"]


def confirm(make, who, activity):
    return make.call("POST", f"/api/v1/activities/{activity}/attendances/confirm", who)


def approve(make, who, ids, reviewed=None):
    body = {"ids": ids} if reviewed is None else {"ids": ids, "reviewed": reviewed}
    return make.call("POST", "/api/v1/attendances/approve", who, json=body)


def balance(make, who):
    return make.call("GET", "/api/v1/me/points", who).json["balance"]


def error_code(response):
    return response.json["error"]["code"]


def minted(app):
    with app.app_context():
        return db.session.query(Transfer).filter(Transfer.reason.in_(("service", "duty"))).all()


def checks_of(make, staff, community):
    today = datetime.now(LOCAL_TZ).date()
    report = make.call("GET", f"/api/v1/communities/{community}/points/reconciliation"
                       f"?from={today.isoformat()}&to={(today + timedelta(days=40)).isoformat()}",
                       staff).json
    return {check["name"]: check["ok"] for check in report["checks"]}


def attend(app, make, leader, activity, resident, minutes):
    with time_machine.travel(START, tick=False) as traveller:
        assert scan(make, leader, activity, personal_code(app, resident.id)).json["result"] \
            == "ok"
        traveller.shift(timedelta(minutes=minutes))
        answer = scan(make, leader, activity, personal_code(app, resident.id), "out").json
    return answer["attendance"]


def test_a_staff_member_alone_cannot_mint_service_points_for_themself(app, make, world):
    x, colleague = world.staff_a, make.staff(world.a)
    assert make.call("POST", f"/api/v1/communities/{world.a}/join", x, json={
        "real_name": "钱进", "building": "1", "unit": "1", "room": "101"}).status_code == 201
    outrageous = make.call("POST", f"/api/v1/teams/{world.team_a}/activities", x,
                           json=activity_body(START, points_per_hour=1000))
    assert outrageous.status_code == 422 and "points_per_hour" in \
        outrageous.json["error"]["details"]["fields"]
    created = make.call("POST", f"/api/v1/teams/{world.team_a}/activities", x,
                        json=activity_body(START, points_per_hour=30))
    assert created.status_code == 201
    activity = created.json["id"]
    assert make.call("POST", f"/api/v1/activities/{activity}/publish", x).status_code == 200
    assert make.call("POST", f"/api/v1/teams/{world.team_a}/members", x,
                     json={"user_id": x.id, "role": "leader"}).status_code == 201
    assert make.call("POST", f"/api/v1/activities/{activity}/signups", x).status_code == 201

    with time_machine.travel(START + timedelta(hours=2), tick=False):
        own = attendances(make, x, activity)[0]
        assert own["status"] == "no_show"
        corrected = make.call("PATCH", f"/api/v1/attendances/{own['id']}", x,
                              json={"minutes": 1440, "reason": "补记"})
        assert corrected.status_code == 403 and error_code(corrected) == "four_eyes_required"
        assert confirm(make, x, activity).status_code == 200
        assert attendances(make, x, activity)[0]["status"] == "no_show"  # not self-confirmed
        assert error_code(approve(make, x, [own["id"]])) == "attendance_not_confirmed"
        assert minted(app) == []

        # The honest path: the team's other leader vouches, a colleague approves.
        too_long = make.call("PATCH", f"/api/v1/attendances/{own['id']}", world.leader_a,
                             json={"minutes": 91, "reason": "补记"})
        assert too_long.status_code == 422  # 60 minutes + 30 early at most
        assert make.call("PATCH", f"/api/v1/attendances/{own['id']}", world.leader_a,
                         json={"minutes": 60, "reason": "到场未扫码"}).status_code == 200
        assert confirm(make, world.leader_a, activity).status_code == 200
        refused = approve(make, x, [own["id"]])
        assert refused.status_code == 403 and error_code(refused) == "four_eyes_required"
        assert approve(make, colleague, [own["id"]]).status_code == 200
    assert balance(make, x) == 30
    [credit] = minted(app)
    assert (credit.prepared_by, credit.author_id) == (world.leader_a.id, colleague.id)


def test_the_leader_who_confirmed_cannot_approve_as_staff(app, make, world):
    """Where one person holds both roles, a second staff member approves."""
    make.call("POST", f"/api/v1/teams/{world.team_a}/members", world.staff_a,
              json={"user_id": world.staff_a.id, "role": "leader"})
    activity = make.activity(world.team_a, starts_at=START, ends_at=START + timedelta(hours=2))
    make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_a)
    row = attend(app, make, world.leader_a, activity, world.resident_a, 90)
    with time_machine.travel(START + timedelta(hours=3), tick=False):
        assert confirm(make, world.staff_a, activity).status_code == 200
        refused = approve(make, world.staff_a, [row["id"]])
        assert refused.status_code == 403 and error_code(refused) == "four_eyes_required"
        assert refused.json["error"]["details"]["attendance_ids"] == [row["id"]]
        assert approve(make, make.staff(world.a), [row["id"]]).status_code == 200
    assert balance(make, world.resident_a) == 15


def test_approval_credits_what_the_clerk_reviewed(app, make, world):
    activity = make.activity(world.team_a, starts_at=START, ends_at=START + timedelta(hours=2))
    make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_a)
    row = attend(app, make, world.leader_a, activity, world.resident_a, 90)
    with time_machine.travel(START + timedelta(hours=3), tick=False):
        assert confirm(make, world.leader_a, activity).status_code == 200
        [shown] = make.call("GET", f"/api/v1/communities/{world.a}/attendances?status=confirmed",
                            world.staff_a).json["items"]
        assert (shown["minutes"], shown["points_per_hour"], shown["points_due"]) == (90, 10, 15)
        # Once hours are confirmed the activity's rate is frozen, for staff too.
        raised = make.call("PATCH", f"/api/v1/activities/{activity}", world.staff_a,
                           json={"points_per_hour": 30})
        assert raised.status_code == 409 and error_code(raised) == "attendance_confirmed"
        # The community's rate may change; the confirmed rows keep the rate they were
        # confirmed at.
        assert make.call("PATCH", f"/api/v1/communities/{world.a}", world.staff_a,
                         json={"points_per_hour": 20}).status_code == 200
        # A correction after sign-off sends the row back to the leader.
        corrected = make.call("PATCH", f"/api/v1/attendances/{row['id']}", world.leader_a,
                              json={"minutes": 120, "reason": "签退晚扫"})
        assert corrected.json["status"] == "open"
        stale = [{"id": row["id"], "minutes": 90, "points": 15}]
        assert error_code(approve(make, world.staff_a, [row["id"]], stale)) \
            == "attendance_not_confirmed"
        assert confirm(make, world.leader_a, activity).status_code == 200
        changed = approve(make, world.staff_a, [row["id"]], stale)
        assert changed.status_code == 409 and error_code(changed) == "attendance_changed"
        assert minted(app) == []
        seen = [{"id": row["id"], "minutes": 120, "points": 40}]
        assert approve(make, world.staff_a, [row["id"]], seen).status_code == 200
    assert balance(make, world.resident_a) == 40


def test_a_late_offline_upload_reopens_confirmed_hours(app, make, world):
    activity = make.activity(world.team_a, starts_at=START, ends_at=START + timedelta(hours=2),
                             walk_ins_allowed=True)
    make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_a)
    row = attend(app, make, world.leader_a, activity, world.resident_a, 30)
    with time_machine.travel(START + timedelta(hours=3), tick=False):
        assert confirm(make, world.leader_a, activity).status_code == 200
        earlier = START - timedelta(minutes=20)
        upload = make.call("POST", f"/api/v1/activities/{activity}/scans/batch", world.leader_a,
                           json={"scans": [{"code": personal_code(app, world.resident_a.id,
                                                                  earlier),
                                            "direction": "in", "scan_id": "late-1",
                                            "scanned_at": earlier.isoformat()}]})
        assert upload.status_code == 200
        [after] = attendances(make, world.staff_a, activity)
        assert after["minutes"] > row["minutes"] and after["status"] == "open"
        assert error_code(approve(make, world.staff_a, [row["id"]])) \
            == "attendance_not_confirmed"


def test_rates_are_staff_settings_within_the_street_bounds(make, world):
    # A leader may not raise an activity above the community's rate (10), staff may.
    leader_rate = make.call("POST", f"/api/v1/teams/{world.team_a}/activities", world.leader_a,
                            json=activity_body(START, points_per_hour=20))
    assert leader_rate.status_code == 403 and error_code(leader_rate) == "rate_requires_staff"
    assert make.call("POST", f"/api/v1/teams/{world.team_a}/activities", world.leader_a,
                     json=activity_body(START, points_per_hour=10)).status_code == 201
    assert make.call("POST", f"/api/v1/teams/{world.team_a}/activities", world.staff_a,
                     json=activity_body(START, points_per_hour=20)).status_code == 201
    assert make.call("PATCH", f"/api/v1/communities/{world.a}", world.staff_a,
                     json={"max_points_per_hour": 100}).status_code == 403
    assert make.call("PATCH", f"/api/v1/communities/{world.a}", world.staff_a,
                     json={"points_per_hour": 31}).status_code == 422
    assert make.call("PATCH", f"/api/v1/communities/{world.a}", world.admin,
                     json={"max_points_per_hour": 40}).status_code == 200
    assert make.call("PATCH", f"/api/v1/communities/{world.a}", world.staff_a,
                     json={"points_per_hour": 31, "daily_points_cap": 60}).status_code == 200
    [entry] = make.call("GET", f"/api/v1/communities/{world.a}/audit?action="
                        "community.settings_changed&actor_id={world.staff_a.id}".replace(
                            "{world.staff_a.id}", str(world.staff_a.id)),
                        world.staff_a).json["items"]
    assert entry["before"] == {"points_per_hour": 10, "daily_points_cap": None}
    assert entry["after"] == {"points_per_hour": 31, "daily_points_cap": 60}


@pytest.fixture
def duty(app, make, world):
    """Tomorrow's 早班 of a parking team is its leader's own; the rate is 8 points."""
    p = parking_team(make, world, members=2, shifts=EARLY_SHIFT, points=8)
    body = roster(make, p, tomorrow(), tomorrow())
    shift = body["assignments"][0]["id"]
    with app.app_context():
        row = db.session.get(Assignment, shift)
        row.user_id = p.leader.id
        starts, ends = row.starts_at, row.ends_at
        db.session.commit()
    code = make.call("GET", f"/api/v1/teams/{p.team}/post-code", p.leader).json["code"]
    return SimpleNamespace(p=p, shift=shift, starts=starts, ends=ends, code=code,
                           month=f"{tomorrow():%Y-%m}")


def duty_check_in(make, who, code, location=None):
    body = {"code": code} if location is None else {"code": code, "location": location}
    return make.call("POST", "/api/v1/duty/checkins", who, json=body)


def test_a_parking_leader_alone_cannot_mint_duty_points(app, make, world, duty):
    p = duty.p
    templates = make.call("GET", f"/api/v1/teams/{p.team}/shift-templates", p.leader).json
    rate = make.call("PUT", f"/api/v1/teams/{p.team}/shift-templates", p.leader,
                     json={"shifts": templates["shifts"], "points_per_shift": 1000})
    assert rate.status_code == 403 and error_code(rate) == "rate_requires_staff"
    assert make.call("PUT", f"/api/v1/teams/{p.team}/shift-templates", world.staff_a,
                     json={"shifts": templates["shifts"], "points_per_shift": 1000}
                     ).status_code == 422  # above the street's bound of 50
    # The member's own API does not hand out the post code.
    assert make.call("GET", f"/api/v1/teams/{p.team}/post-code", p.members[0]).status_code \
        == 403
    leader = p.leader
    with time_machine.travel(duty.starts + timedelta(minutes=5), tick=False):
        leader = make.relogin(leader)
        assert error_code(duty_check_in(make, leader, duty.code)) == "location_required"
        away = duty_check_in(make, leader, duty.code, AWAY)
        assert error_code(away) == "away_from_post"
        assert away.json["error"]["details"]["distance_m"] == pytest.approx(300, abs=5)
        at_post = duty_check_in(make, leader, duty.code, POST)
        assert at_post.status_code == 200 and at_post.json["points"] == 0
    with time_machine.travel(duty.ends + timedelta(hours=1), tick=False):
        leader, staff, colleague = (make.relogin(leader), make.relogin(world.staff_a),
                                    make.staff(world.a))
        signed_off = make.call("POST", f"/api/v1/teams/{p.team}/duty/confirm", leader,
                               json={"month": duty.month})
        assert signed_off.status_code == 200 and signed_off.json["items"] == []  # own shift
        assert error_code(make.call("POST", "/api/v1/duty/approve", staff,
                                    json={"ids": [duty.shift]})) == "shift_not_confirmed"
        assert minted(app) == []
        # The honest path: staff sign the leader's shift off, a colleague approves it.
        confirmed = make.call("POST", f"/api/v1/teams/{p.team}/duty/confirm", staff,
                              json={"month": duty.month}).json["items"]
        assert [(s["id"], s["points_per_shift"]) for s in confirmed] == [(duty.shift, 8)]
        refused = make.call("POST", "/api/v1/duty/approve", staff, json={"ids": [duty.shift]})
        assert refused.status_code == 403 and error_code(refused) == "four_eyes_required"
        approved = make.call("POST", "/api/v1/duty/approve", colleague,
                             json={"ids": [duty.shift],
                                   "reviewed": [{"id": duty.shift, "points": 8}]})
        assert approved.status_code == 200 and approved.json["items"][0]["points"] == 8
        assert balance(make, leader) == 8
        assert all(checks_of(make, staff, world.a).values())


def test_a_rotated_post_code_checks_nobody_in(make, duty):
    rotated = make.call("POST", f"/api/v1/teams/{duty.p.team}/post-code/rotate", duty.p.leader)
    assert rotated.status_code == 200 and rotated.json["code"] != duty.code
    with time_machine.travel(duty.starts, tick=False):
        leader = make.relogin(duty.p.leader)
        assert error_code(duty_check_in(make, leader, duty.code, POST)) == "invalid_code"
        assert duty_check_in(make, leader, rotated.json["code"], POST).status_code == 200


def test_the_outgoing_member_hands_over_to_the_incoming_one(app, make, world):
    shifts = [{"name": "早班", "start": "07:00", "end": "15:00", "needed": 1},
              {"name": "中班", "start": "15:00", "end": "23:00", "needed": 1}]
    p = parking_team(make, world, members=2, shifts=shifts)
    body = roster(make, p, tomorrow(), tomorrow())
    early, late = sorted(body["assignments"], key=lambda a: a["starts_at"])
    outgoing, incoming = p.members
    with app.app_context():
        db.session.get(Assignment, early["id"]).user_id = outgoing.id
        db.session.get(Assignment, late["id"]).user_id = incoming.id
        late_starts = db.session.get(Assignment, late["id"]).starts_at
        db.session.commit()
    code = make.call("GET", f"/api/v1/teams/{p.team}/post-code", p.leader).json["code"]
    with time_machine.travel(late_starts - timedelta(minutes=10), tick=False):
        outgoing, incoming = make.relogin(outgoing), make.relogin(incoming)
        their_code = personal_code(app, incoming.id)
        # Not checked in yourself: no hand-over.
        assert error_code(make.call("POST", "/api/v1/duty/handovers", outgoing,
                                    json={"code": their_code})) == "handover_not_allowed"
    with time_machine.travel(late_starts - timedelta(hours=7), tick=False):
        assert duty_check_in(make, make.relogin(outgoing), code, POST).status_code == 200
    with time_machine.travel(late_starts - timedelta(minutes=10), tick=False):
        outgoing, incoming = make.relogin(outgoing), make.relogin(incoming)
        assert error_code(make.call("POST", "/api/v1/duty/handovers", incoming, json={
            "code": personal_code(app, outgoing.id)})) == "handover_not_allowed"
        handed = make.call("POST", "/api/v1/duty/handovers", outgoing,
                           json={"code": personal_code(app, incoming.id)})
        assert handed.status_code == 200 and handed.json["result"] == "ok"
        assert handed.json["assignment"]["id"] == late["id"]
    with app.app_context():
        row = db.session.get(Assignment, late["id"])
        assert (row.status, row.checkin_method, row.handed_over_by) == (
            "completed", "handover", outgoing.id)


def test_fees_are_recorded_by_managers_and_voided_never_edited(app, make, world):
    p = parking_team(make, world, members=2)
    month = f"{tomorrow():%Y-%m}"
    fee = {"plate": "鄂A12345", "period": month, "amount": "150.00"}
    assert make.call("POST", f"/api/v1/teams/{p.team}/fees", p.members[0],
                     json=fee).status_code == 403
    assert make.call("POST", f"/api/v1/teams/{p.team}/fees", p.leader,
                     json={**fee, "amount": "100000.00"}).status_code == 422
    first = make.call("POST", f"/api/v1/teams/{p.team}/fees", p.leader,
                      json={**fee, "collected_by": p.members[0].id})
    assert first.status_code == 201
    again = make.call("POST", f"/api/v1/teams/{p.team}/fees", p.leader, json=fee)
    assert again.status_code == 409 and error_code(again) == "duplicate_fee"
    make.call("POST", f"/api/v1/teams/{p.team}/fees", p.leader,
              json={**fee, "plate": "鄂B00001", "amount": "80.00"})
    assert make.call("POST", f"/api/v1/fees/{first.json['id']}/voids", p.members[0],
                     json={"reason": "重复"}).status_code == 403
    void = make.call("POST", f"/api/v1/fees/{first.json['id']}/voids", world.staff_a,
                     json={"reason": "车主未交，误登记"})
    assert void.status_code == 201
    assert (void.json["amount"], void.json["voids_id"]) == ("-150.00", first.json["id"])
    assert error_code(make.call("POST", f"/api/v1/fees/{first.json['id']}/voids",
                                world.staff_a, json={"reason": "再作废"})) == "fee_already_void"
    report = make.call("GET", f"/api/v1/teams/{p.team}/subsidies?month={month}",
                       p.leader).json
    assert report["pool"] == "80.00" and report["fees_recorded"] == 2
    assert report["voids"] == [{"fee_id": first.json["id"], "plate": "鄂A12345",
                                "amount": "150.00", "reason": "车主未交，误登记"}]
    # Re-recording the plate is allowed once the wrong entry is void.
    assert make.call("POST", f"/api/v1/teams/{p.team}/fees", p.leader,
                     json=fee).status_code == 201
    actions = [e["action"] for e in make.call("GET", f"/api/v1/communities/{world.a}/audit",
                                              world.staff_a).json["items"]]
    assert actions.count("fee.recorded") == 3 and actions.count("fee.voided") == 1


def test_one_hour_is_paid_once(app, make, world):
    a1 = make.activity(world.team_a, starts_at=START, ends_at=START + timedelta(hours=2),
                       walk_ins_allowed=True, title="上午清扫")
    a2 = make.activity(world.team_a2, starts_at=START + timedelta(minutes=30),
                       ends_at=START + timedelta(hours=3), walk_ins_allowed=True)
    with time_machine.travel(START + timedelta(minutes=5), tick=False):
        assert scan(make, world.leader_a, a1,
                    personal_code(app, world.resident_a.id)).json["result"] == "ok"
        replayed = scan(make, world.leader_a2, a2, personal_code(app, world.resident_a.id))
        assert replayed.json["result"] == "time_conflict"
        assert replayed.json["conflict"] == {"activity_id": a1, "title": "上午清扫"}
        assert replayed.json["attendance"] is None


def test_promotion_passes_over_a_resident_who_now_has_a_clash(app, make, world):
    full = make.activity(world.team_a, starts_at=START, ends_at=START + timedelta(hours=2),
                         capacity=1, title="满员活动")
    clash = make.activity(world.team_a2, starts_at=START + timedelta(hours=1),
                          ends_at=START + timedelta(hours=3), title="同时段活动")
    second = make.resident(world.a, "周二")
    make.call("POST", f"/api/v1/activities/{full}/signups", world.resident_a)
    assert make.call("POST", f"/api/v1/activities/{full}/signups", world.leader_a2
                     ).json["status"] == "waitlisted"
    assert make.call("POST", f"/api/v1/activities/{full}/signups", second
                     ).json["status"] == "waitlisted"
    assert make.call("POST", f"/api/v1/activities/{clash}/signups", world.leader_a2
                     ).json["status"] == "confirmed"
    make.call("DELETE", f"/api/v1/activities/{full}/signups/me", world.resident_a)
    mine = {s["activity_id"]: s["status"] for s in make.call(
        "GET", "/api/v1/me/signups", world.leader_a2).json["items"]}
    assert mine == {full: "waitlisted", clash: "confirmed"}
    assert make.call("GET", f"/api/v1/activities/{full}", second).json["my_signup"]["status"] \
        == "confirmed"
    with app.app_context():
        told = db.session.query(Notification).filter_by(user_id=world.leader_a2.id).all()
        assert any("时间冲突" in n.body for n in told)


def test_a_duty_shift_and_a_service_activity_at_the_same_time_pay_once(app, make, world, duty):
    """One hour, paid once, across domains: the ledger refuses the second credit."""
    p = duty.p
    activity = make.activity(world.team_a, starts_at=duty.starts + timedelta(hours=1),
                             ends_at=duty.starts + timedelta(hours=3), walk_ins_allowed=True)
    with time_machine.travel(duty.starts + timedelta(minutes=5), tick=False):
        assert duty_check_in(make, make.relogin(p.leader), duty.code, POST).status_code == 200
    with time_machine.travel(duty.starts + timedelta(hours=1), tick=False) as traveller:
        assert scan(make, world.leader_a, activity,
                    personal_code(app, p.leader.id)).json["result"] == "ok"
        traveller.shift(timedelta(hours=1))
        row = scan(make, world.leader_a, activity, personal_code(app, p.leader.id),
                   "out").json["attendance"]
    with time_machine.travel(duty.ends + timedelta(hours=1), tick=False):
        staff, colleague = make.relogin(world.staff_a), make.staff(world.a)
        assert confirm(make, make.relogin(world.leader_a), activity).status_code == 200
        assert approve(make, staff, [row["id"]]).status_code == 200
        make.call("POST", f"/api/v1/teams/{p.team}/duty/confirm", staff,
                  json={"month": duty.month})
        clash = make.call("POST", "/api/v1/duty/approve", colleague, json={"ids": [duty.shift]})
        assert clash.status_code == 409 and error_code(clash) == "time_conflict"
        assert clash.json["error"]["details"]["assignment_ids"] == [duty.shift]
    assert [t.reason for t in minted(app)] == ["service"]


@pytest.fixture
def credited(app, make, world):
    """resident_a was credited 15 service points, approved by staff_a."""
    activity = make.activity(world.team_a, starts_at=START, ends_at=START + timedelta(hours=2))
    make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_a)
    row = attend(app, make, world.leader_a, activity, world.resident_a, 90)
    with time_machine.travel(START + timedelta(hours=3), tick=False):
        confirm(make, world.leader_a, activity)
        approve(make, world.staff_a, [row["id"]])
    [credit] = minted(app)
    return credit.id


def test_a_mistaken_credit_is_reversed_by_two_staff_members(app, make, world, credited):
    colleague = make.staff(world.a)
    assert make.call("POST", f"/api/v1/points/transfers/{credited}/reversals", world.leader_a,
                     json={"reason": "误记"}).status_code == 403
    assert make.call("POST", f"/api/v1/points/transfers/{credited}/reversals", world.staff_b,
                     json={"reason": "误记"}).status_code == 404
    asked = make.call("POST", f"/api/v1/points/transfers/{credited}/reversals", world.staff_a,
                      json={"reason": "时长重复登记"})
    assert asked.status_code == 201 and asked.json["status"] == "pending"
    same = make.call("POST", f"/api/v1/points/reversals/{asked.json['id']}/approve",
                     world.staff_a)
    assert same.status_code == 403 and error_code(same) == "four_eyes_required"
    applied = make.call("POST", f"/api/v1/points/reversals/{asked.json['id']}/approve",
                        colleague)
    assert applied.status_code == 200 and applied.json["status"] == "applied"
    assert balance(make, world.resident_a) == 0
    again = make.call("POST", f"/api/v1/points/transfers/{credited}/reversals", world.staff_a,
                      json={"reason": "再冲正"})
    assert again.status_code == 409 and error_code(again) == "already_reversed"
    today = datetime.now(LOCAL_TZ).date()
    report = make.call("GET", f"/api/v1/communities/{world.a}/points/reconciliation"
                       f"?from={today}&to={today + timedelta(days=5)}", world.staff_a).json
    assert report["reversals"] == [{"transfer_id": applied.json["reversing_transfer_id"],
                                    "reverses_id": credited, "amount": 15,
                                    "reason": "service"}]
    assert report["issued"] == 0 and all(check["ok"] for check in report["checks"])


def test_a_credit_already_spent_cannot_be_reversed(app, make, world, credited):
    gift = make.call("POST", f"/api/v1/communities/{world.a}/gifts", world.staff_a, json={
        "name": "纸巾", "description": "", "points_cost": 10, "stock": 5,
        "per_user_limit": 5}).json["id"]
    assert make.call("POST", f"/api/v1/gifts/{gift}/redemptions", world.resident_a,
                     json={"quantity": 1}).status_code == 201
    asked = make.call("POST", f"/api/v1/points/transfers/{credited}/reversals", world.staff_a,
                      json={"reason": "误记"}).json
    spent = make.call("POST", f"/api/v1/points/reversals/{asked['id']}/approve",
                      make.staff(world.a))
    assert spent.status_code == 409 and error_code(spent) == "insufficient_points"


def test_the_audit_trail_reads_who_did_what_before_and_after(app, make, world, credited):
    trail = make.call("GET", f"/api/v1/communities/{world.a}/audit", world.staff_a)
    assert trail.status_code == 200
    items = trail.json["items"]
    assert [e["id"] for e in items] == sorted((e["id"] for e in items), reverse=True)
    approved = next(e for e in items if e["action"] == "attendance.approved")
    assert approved["actor_id"] == world.staff_a.id
    assert approved["before"]["status"] == "confirmed"
    assert approved["after"]["points"] == 15
    assert {"attendance.confirmed", "attendance.approved"} <= {e["action"] for e in items}
    by_leader = make.call("GET", f"/api/v1/communities/{world.a}/audit?actor_id="
                          f"{world.leader_a.id}", world.staff_a).json["items"]
    assert {e["action"] for e in by_leader} == {"attendance.confirmed"}
    future = (datetime.now(LOCAL_TZ).date() + timedelta(days=30)).isoformat()
    assert make.call("GET", f"/api/v1/communities/{world.a}/audit?from={future}",
                     world.staff_a).json["total"] == 0
    made_leader = make.call("GET", f"/api/v1/communities/{world.a}/audit?action="
                            "team.member_set", world.staff_a).json["items"]
    assert made_leader == []  # the world's teams were set up in the database
    assert make.call("POST", f"/api/v1/teams/{world.team_a}/members", world.staff_a,
                     json={"user_id": world.resident_a.id, "role": "leader"}).status_code == 201
    [entry] = make.call("GET", f"/api/v1/communities/{world.a}/audit?action=team.member_set",
                        world.staff_a).json["items"]
    assert entry["after"] == {"user_id": world.resident_a.id, "role": "leader"}
    for outsider in (world.leader_a, world.resident_a, world.staff_b):
        assert make.call("GET", f"/api/v1/communities/{world.a}/audit",
                         outsider).status_code == 403
    with app.app_context():
        assert db.session.query(AuditEntry).count() == trail.json["total"] + 1


@pytest.mark.postgres_only
def test_a_correction_racing_an_approval_credits_what_was_reviewed_or_nothing(
        app, make, world, served):
    """Real concurrent requests on PostgreSQL: whichever wins, the credit is the reviewed
    amount or none, never the uncorrected and the corrected both, nor the change unseen."""
    import requests

    from tests.conftest import all_at_once

    outcomes = []
    for round_ in range(6):
        starts = START + timedelta(days=round_)
        activity = make.activity(world.team_a, starts_at=starts,
                                 ends_at=starts + timedelta(hours=2))
        make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_a)
        with time_machine.travel(starts, tick=False) as traveller:
            scan(make, world.leader_a, activity, personal_code(app, world.resident_a.id))
            traveller.shift(timedelta(minutes=90))
            row = scan(make, world.leader_a, activity, personal_code(app, world.resident_a.id),
                       "out").json["attendance"]
        with time_machine.travel(starts + timedelta(hours=3), tick=False):
            assert confirm(make, world.leader_a, activity).status_code == 200
            approve_body = {"ids": [row["id"]],
                            "reviewed": [{"id": row["id"], "minutes": 90, "points": 15}]}
            approval, correction = all_at_once([
                partial(requests.post, f"{served}/attendances/approve", timeout=30,
                        headers=world.staff_a.headers, json=approve_body),
                partial(requests.patch, f"{served}/attendances/{row['id']}", timeout=30,
                        headers=world.leader_a.headers,
                        json={"minutes": 120, "reason": "签退晚扫"})])
        with app.app_context():
            credits = db.session.query(Transfer).filter_by(
                ref=f"attendance:{row['id']}").all()
        if approval.status_code == 200:
            assert correction.status_code == 409  # the approved row is locked
            assert [c.amount for c in credits] == [15]
            outcomes.append("approved")
        else:
            assert correction.status_code == 200 and approval.status_code == 409
            assert approval.json()["error"]["code"] == "attendance_not_confirmed"
            assert credits == []
            outcomes.append("corrected")
    assert len(outcomes) == 6
