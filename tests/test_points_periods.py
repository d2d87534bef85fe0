"""Monthly close (SPEC §6): after closing, no transfer may be dated inside that month."""

from __future__ import annotations

from datetime import datetime

import pytest
import time_machine
from sqlalchemy import insert

from backend.common.audit import AuditEntry
from backend.common.clock import LOCAL_TZ
from backend.errors import ApiError
from backend.extensions import db
from backend.points.models import Transfer
from tests.points_support import seed_points

OCTOBER = datetime(2026, 10, 15, 10, 0, tzinfo=LOCAL_TZ)
NOVEMBER = datetime(2026, 11, 2, 9, 0, tzinfo=LOCAL_TZ)


def credit(community_id, user_id, amount, key):
    return seed_points(community_id, user_id, amount, key, ref="attendance:1")


def close(make, world, who, period):
    return make.call("POST", f"/api/v1/communities/{world.a}/points/periods/{period}/close",
                     make.relogin(who))


def test_a_closed_month_takes_no_more_transfers(app, make, world):
    with time_machine.travel(OCTOBER, tick=False), app.app_context():
        credit(world.a, world.resident_a.id, 30, "oct-1")
        db.session.commit()
    with time_machine.travel(NOVEMBER):
        closed = close(make, world, world.staff_a, "2026-10")
        assert closed.status_code == 201
        assert closed.json["period"] == "2026-10" and closed.json["transfer_count"] == 1
        with app.app_context():
            credit(world.a, world.resident_a.id, 5, "nov-1")  # the open month is fine
            db.session.commit()
    with time_machine.travel(OCTOBER.replace(day=31, hour=23), tick=False), app.app_context():
        with pytest.raises(ApiError) as refused:
            credit(world.a, world.resident_a.id, 5, "back-dated")
        assert refused.value.code == "period_closed" and refused.value.status == 409
        db.session.rollback()
    with app.app_context():
        assert db.session.query(Transfer).count() == 2
        assert db.session.query(AuditEntry).filter_by(action="period.closed").count() == 1


def test_closing_twice_or_before_the_month_ends_is_refused(make, world):
    with time_machine.travel(NOVEMBER):
        assert close(make, world, world.staff_a, "2026-10").status_code == 201
        twice = close(make, world, world.staff_a, "2026-10")
        assert twice.status_code == 409
        assert twice.json["error"]["code"] == "period_already_closed"
        early = close(make, world, world.staff_a, "2026-11")
        assert early.status_code == 409 and early.json["error"]["code"] == "period_not_ended"
        future = close(make, world, world.staff_a, "2027-01")
        assert future.json["error"]["code"] == "period_not_ended"
        assert close(make, world, world.staff_a, "2026-13").status_code == 404
        assert close(make, world, world.leader_a, "2026-09").status_code == 403
        assert close(make, world, world.staff_b, "2026-09").status_code == 403


def test_reconciliation_reports_closed_periods_and_catches_back_dating(app, make, world):
    with time_machine.travel(OCTOBER, tick=False), app.app_context():
        credit(world.a, world.resident_a.id, 30, "oct-1")
        db.session.commit()
    query = {"from": "2026-10-01", "to": "2026-10-31"}
    url = f"/api/v1/communities/{world.a}/points/reconciliation"
    with time_machine.travel(NOVEMBER):
        close(make, world, world.staff_a, "2026-10")
        staff = make.relogin(world.staff_a)
        report = make.call("GET", url, staff, query_string=query).json
        assert report["closed_periods"] == ["2026-10"]
        check = {c["name"]: c for c in report["checks"]}["closed_periods_unchanged"]
        assert check["ok"] is True and "2026-10" in check["detail"]
        with app.app_context():  # what a direct INSERT behind the ledger's back would do
            first = db.session.query(Transfer).one()
            row = {c.name: getattr(first, c.name) for c in Transfer.__table__.columns
                   if c.name != "id"}
            db.session.execute(insert(Transfer), [{**row, "idempotency_key": "sneaky"}])
            db.session.commit()
        report = make.call("GET", url, staff, query_string=query).json
        check = {c["name"]: c for c in report["checks"]}["closed_periods_unchanged"]
        assert check["ok"] is False and "2026-10" in check["detail"]
