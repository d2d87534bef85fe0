"""Helpers for the residents' voice tests: needs through the API, attendance straight in
the database (check-in is tested on its own)."""

from __future__ import annotations

from backend.checkin.models import Attendance, AttendanceStatus
from backend.extensions import db

API = "/api/v1"


def post_need(make, world, person=None, **fields):
    body = {"title": "楼道灯坏了", "description": "3号楼2单元的楼道灯一直不亮",
            "category": "safety", **fields}
    response = make.call("POST", f"{API}/communities/{world.a}/needs",
                         person or world.resident_a, json=body)
    assert response.status_code == 201, response.json
    return response.json


def triage(make, world, need_id, status, who=None, **fields):
    body = {"status": status, "reply": f"已{status}", **fields}
    return make.call("POST", f"{API}/needs/{need_id}/triage", who or world.staff_a, json=body)


def attend(app, activity_id, community_id, person, status=AttendanceStatus.CONFIRMED,
           confirmed_by=None):
    with app.app_context():
        db.session.add(Attendance(activity_id=activity_id, community_id=community_id,
                                  user_id=person.id, status=status, points_per_hour=10,
                                  confirmed_by=confirmed_by))
        db.session.commit()
