"""Self-service check-in by poster code, the volunteer record and the certificate (§5)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pypdf
import time_machine
import zxingcpp
from PIL import Image

from backend.checkin.models import Certificate
from backend.extensions import db
from tests.checkin_support import altered, new_scan_id, personal_code, poster_code, scan

START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=4)


def self_scan(make, who, code, direction="in"):
    return make.call("POST", "/api/v1/me/checkins", who,
                     json={"code": code, "direction": direction, "scan_id": new_scan_id()})


def test_resident_checks_in_and_out_by_scanning_the_poster(app, make, world):
    activity = make.activity(world.team_a, starts_at=START, self_checkin_allowed=True)
    make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_a)
    with time_machine.travel(START, tick=False) as traveller:
        png = make.call("GET", f"/api/v1/activities/{activity}/poster-code.png", world.leader_a)
        text = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))[0].text
        entered = self_scan(make, world.resident_a, text).get_json()
        traveller.shift(timedelta(minutes=45))
        fresh = make.call("GET", f"/api/v1/activities/{activity}/poster-code",
                          world.leader_a).get_json()["code"]
        left = self_scan(make, world.resident_a, fresh, "out").get_json()
    assert entered["result"] == "ok" and left["result"] == "ok"
    assert left["attendance"]["minutes"] == 45


def test_poster_codes_expire_and_do_not_work_for_another_activity(app, make, world):
    activity = make.activity(world.team_a, starts_at=START, self_checkin_allowed=True)
    other = make.activity(world.team_a, starts_at=START + timedelta(days=1),
                          self_checkin_allowed=True)
    make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_a)
    with time_machine.travel(START, tick=False) as traveller:
        other_code = poster_code(app, other)
        assert self_scan(make, world.resident_a, other_code).get_json()["result"] in (
            "outside_window", "not_signed_up")
        old = poster_code(app, activity)
        traveller.shift(timedelta(minutes=3))
        assert self_scan(make, world.resident_a, old).get_json()["result"] == "expired_code"
        forged = altered(poster_code(app, activity))
        assert self_scan(make, world.resident_a, forged).get_json()["result"] == "invalid_code"
        personal = personal_code(app, world.resident_a.id)
        assert self_scan(make, world.resident_a, personal).get_json()["result"] == "invalid_code"


def test_poster_code_outside_the_window_is_refused(app, make, world):
    activity = make.activity(world.team_a, starts_at=START, self_checkin_allowed=True)
    make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_a)
    with time_machine.travel(START + timedelta(hours=5), tick=False):
        code = poster_code(app, activity)
        assert self_scan(make, world.resident_a, code).get_json()["result"] == "outside_window"


def test_self_checkin_only_where_the_activity_allows_it(app, make, world):
    activity = make.activity(world.team_a, starts_at=START)
    refused = make.call("GET", f"/api/v1/activities/{activity}/poster-code", world.leader_a)
    assert refused.status_code == 409
    with time_machine.travel(START, tick=False):
        response = self_scan(make, world.resident_a, poster_code(app, activity))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "self_checkin_not_allowed"


def test_poster_of_another_community_is_an_invalid_code(app, make, world):
    activity = make.activity(world.team_b, starts_at=START, self_checkin_allowed=True)
    with time_machine.travel(START, tick=False):
        answer = self_scan(make, world.resident_a, poster_code(app, activity)).get_json()
    assert answer == {"result": "invalid_code", "attendance": None, "resident": None}


def approved_service(app, make, world, minutes=120):
    activity = make.activity(world.team_a, starts_at=START, ends_at=START + timedelta(hours=3),
                             title="敬老院探访")
    make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_a)
    with time_machine.travel(START, tick=False) as traveller:
        row = scan(make, world.leader_a, activity,
                   personal_code(app, world.resident_a.id)).get_json()["attendance"]
        traveller.shift(timedelta(minutes=minutes))
        scan(make, world.leader_a, activity, personal_code(app, world.resident_a.id), "out")
        traveller.shift(timedelta(hours=2))
        make.call("POST", f"/api/v1/activities/{activity}/attendances/confirm", world.leader_a)
        make.call("POST", "/api/v1/attendances/approve", world.staff_a, json={"ids": [row["id"]]})
    return activity


def test_volunteer_record_lists_approved_service(app, make, world):
    activity = approved_service(app, make, world)
    record = make.call("GET", "/api/v1/me/volunteer-record", world.resident_a).get_json()
    assert record["total_minutes"] == 120 and record["total_hours"] == 2.0
    item = record["items"][0]
    assert (item["activity_id"], item["activity"], item["hours"], item["points"]) == (
        activity, "敬老院探访", 2.0, 20)
    assert item["approver"] and item["team"].startswith("志愿队")
    empty = make.call("GET", "/api/v1/me/volunteer-record", world.resident_b).get_json()
    assert empty["items"] == [] and empty["total_minutes"] == 0


def test_certificate_pdf_and_public_verification(app, make, world):
    approved_service(app, make, world)
    issued = make.call("POST", f"/api/v1/communities/{world.a}/certificates", world.staff_a,
                       json={"user_id": world.resident_a.id})
    assert issued.status_code == 201
    certificate = issued.get_json()
    code = certificate["verification_code"]
    pdf = make.call("GET", f"/api/v1/certificates/{certificate['id']}.pdf", world.resident_a)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert "志愿服务证明" in text and code in text and "张三明" in text and "敬老院探访" in text
    public = make.call("GET", f"/api/v1/certificates/verify/{code}")  # no login
    assert public.status_code == 200
    body = public.get_json()
    assert body["valid"] is True and body["content"]["total_minutes"] == 120
    assert body["content"]["volunteer_masked"] == "张*明" and "volunteer" not in body["content"]


def test_an_altered_certificate_fails_the_check(app, make, world):
    approved_service(app, make, world)
    code = make.call("POST", f"/api/v1/communities/{world.a}/certificates", world.staff_a,
                     json={"user_id": world.resident_a.id}).get_json()["verification_code"]
    with app.app_context():
        certificate = db.session.query(Certificate).one()
        certificate.content = {**certificate.content, "total_minutes": 6000}
        db.session.commit()
    body = make.call("GET", f"/api/v1/certificates/verify/{code}").get_json()
    assert body["valid"] is False
    unknown = make.call("GET", "/api/v1/certificates/verify/AAAA-BBBB-CCCC-DDDD").get_json()
    assert unknown["valid"] is False and unknown["content"] is None


def test_certificates_are_for_staff_to_issue_and_owners_to_read(app, make, world):
    approved_service(app, make, world)
    url = f"/api/v1/communities/{world.a}/certificates"
    assert make.call("POST", url, world.leader_a,
                     json={"user_id": world.resident_a.id}).status_code == 403
    assert make.call("POST", url, world.staff_a,
                     json={"user_id": world.resident_b.id}).status_code == 404
    certificate = make.call("POST", url, world.staff_a,
                            json={"user_id": world.resident_a.id}).get_json()
    for who, status in ((world.resident_b, 404), (world.staff_b, 404), (world.staff_a, 200),
                        (world.resident_a, 200)):
        assert make.call("GET", f"/api/v1/certificates/{certificate['id']}.pdf",
                         who).status_code == status
