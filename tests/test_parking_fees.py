"""Parking fees and the month-end subsidy report (SPEC §8)."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from backend.extensions import db
from backend.parking.fees import split
from backend.parking.models import Assignment, AssignmentStatus
from tests.parking_helpers import parking_team, roster, tomorrow


@pytest.fixture
def f(make, world):
    return parking_team(make, world, members=3)


_plates = itertools.count(12345)


def record(make, f, who, amount, period="2026-12", **extra):
    """A fee for a car of its own (one plate and month is recorded once)."""
    return make.call("POST", f"/api/v1/teams/{f.team}/fees", who,
                     json={"plate": f"京a{next(_plates)}", "period": period, "amount": amount,
                           **extra})


def complete(app, f, shifts_per_user: dict[int, int], month_day: date):
    """Mark that many completed shifts per member in the month (a roster, then history)."""
    with app.app_context():
        rows = db.session.query(Assignment).filter_by(team_id=f.team).order_by(Assignment.id)
        rows = list(rows)
        for user_id, count in shifts_per_user.items():
            for _ in range(count):
                row = rows.pop()
                row.user_id, row.status = user_id, AssignmentStatus.COMPLETED
                row.date = month_day + timedelta(days=len(rows))  # distinct days in the month
        db.session.commit()


def test_the_leader_records_a_fee_a_member_collected(make, f):
    response = record(make, f, f.leader, 120.5, collected_by=f.members[0].id)
    assert response.status_code == 201
    assert response.json.items() >= {"period": "2026-12", "amount": "120.50",
                                     "collected_by": f.members[0].id}.items()
    assert response.json["plate"].startswith("京A")
    assert record(make, f, f.members[0], 10).status_code == 403  # members do not record


def test_staff_record_a_fee_for_a_collector_of_the_team(make, f):
    staff = f.world.staff_a
    assert record(make, f, staff, 10).json["error"]["code"] == "not_a_team_member"
    assert record(make, f, staff, 10, collected_by=f.members[1].id).status_code == 201


@pytest.mark.parametrize("body", [{"amount": 0}, {"amount": -5}, {"period": "2026-13"},
                                  {"period": "26-12"}, {"amount": "abc"}])
def test_bad_fees_are_refused(make, f, body):
    payload = {"plate": "京A12345", "period": "2026-12", "amount": 10, **body}
    response = make.call("POST", f"/api/v1/teams/{f.team}/fees", f.leader, json=payload)
    assert response.status_code == 422


def test_residents_outside_the_team_cannot_record_fees(make, f):
    assert record(make, f, f.world.resident_a, 10).status_code == 403


def test_the_subsidy_pool_is_split_by_shifts_served(app, make, f):
    first = tomorrow()
    roster(make, f, first, first + timedelta(days=2))
    for amount in (100, 200, 33.33):
        assert record(make, f, f.leader, amount).status_code == 201
    a, b, c = f.members
    complete(app, f, {a.id: 3, b.id: 2, c.id: 1}, date(2026, 12, 15))
    report = make.call("GET", f"/api/v1/teams/{f.team}/subsidies?month=2026-12",
                       f.world.staff_a).json
    assert report["pool"] == "333.33" and report["total_shifts"] == 6
    amounts = {i["user_id"]: Decimal(i["amount"]) for i in report["items"]}
    # 333.33 × 3/6 and × 1/6 leave half a fen each: the one fen left goes to the smaller.
    assert amounts[a.id] == Decimal("166.66") and amounts[b.id] == Decimal("111.11")
    assert amounts[c.id] == Decimal("55.56") and amounts[f.leader.id] == 0
    assert sum(amounts.values()) == Decimal("333.33") and report["undistributed"] == "0.00"
    names = {i["user_id"]: i["display_name"] for i in report["items"]}
    assert names[a.id] == "队员0号"  # staff see full names
    by_leader = make.call("GET", f"/api/v1/teams/{f.team}/subsidies?month=2026-12",
                          f.leader).json
    assert {i["display_name"] for i in by_leader["items"]} >= {"队**号"}


def test_the_report_exports_as_csv_and_xlsx(app, make, f):
    first = tomorrow()
    roster(make, f, first, first)
    assert record(make, f, f.leader, 90).status_code == 201
    complete(app, f, {f.members[0].id: 1, f.members[1].id: 2}, date(2026, 12, 3))
    staff = f.world.staff_a
    as_csv = make.call("GET", f"/api/v1/teams/{f.team}/subsidies.csv?month=2026-12", staff)
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(as_csv.data.decode("utf-8-sig"))))
    assert rows[0] == ["队员编号", "队员", "完成班次", "补贴（元）"]
    assert rows[-1] == ["", "合计", "3", "90.00"]
    assert [f.members[1].id, "60.00"] in [[int(r[0]), r[3]] for r in rows[1:-1]]
    as_xlsx = make.call("GET", f"/api/v1/teams/{f.team}/subsidies.xlsx?month=2026-12", staff)
    sheet = load_workbook(io.BytesIO(as_xlsx.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("队员编号", "队员", "完成班次", "补贴（元）")
    assert values[-1][1:] == ("合计", 3, 90)


def test_members_cannot_see_the_subsidy_report(make, f):
    response = make.call("GET", f"/api/v1/teams/{f.team}/subsidies?month=2026-12", f.members[0])
    assert response.status_code == 403


@given(st.integers(0, 10_000_000), st.lists(st.integers(0, 40), min_size=1, max_size=30))
def test_the_split_adds_up_to_the_pool_and_follows_the_shifts(pool, weights):
    parts = split(pool, weights)
    if sum(weights) == 0:
        assert parts == [0] * len(weights)
        return
    assert sum(parts) == pool
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - pool * weight / sum(weights)) < 1
        assert weight > 0 or part == 0
