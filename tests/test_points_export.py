"""Ledger export (SPEC §6): every transfer of the period, CSV and XLSX, phones masked."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import openpyxl
import time_machine

from backend.auth.models import User
from backend.common.clock import LOCAL_TZ
from backend.communities.models import Resident
from backend.extensions import db
from backend.points.ledger import account_for, transfer
from backend.points.models import AccountKind, TransferReason
from tests.points_support import seed_points

HEADER = ["流水号", "时间", "类型", "关联", "积分", "转出账户", "转出居民", "转出手机",
          "转入账户", "转入居民", "转入手机", "转出后余额", "转入后余额", "操作人"]


def seed(app, world):
    """Three transfers in November, one in October; the resident has a phone and a name a
    spreadsheet would run as a formula."""
    with app.app_context():
        db.session.get(User, world.resident_a.id).phone = "13812345678"
        db.session.query(Resident).filter_by(user_id=world.resident_a.id).one().real_name = \
            "=HYPERLINK(1)"
        mine = account_for(world.a, AccountKind.RESIDENT, world.resident_a.id)
        issued = account_for(world.a, AccountKind.ISSUED)
        redeemed = account_for(world.a, AccountKind.REDEEMED)
        with time_machine.travel(datetime(2026, 10, 31, 23, 0, tzinfo=LOCAL_TZ), tick=False):
            seed_points(world.a, world.resident_a.id, 40, "k0", ref="attendance:1")
        with time_machine.travel(datetime(2026, 11, 3, 9, 0, tzinfo=LOCAL_TZ), tick=False):
            transfer(issued, mine, 30, TransferReason.SERVICE, "attendance:2", "k1",
                     world.staff_a.id, prepared_by=world.leader_a.id)
            transfer(mine, redeemed, 20, TransferReason.REDEEM, "redemption:1", "k2")
            transfer(redeemed, mine, 20, TransferReason.REFUND, "redemption:1", "k3")
        db.session.commit()


def fetch(make, world, who, extension):
    return make.call("GET", f"/api/v1/communities/{world.a}/points/ledger.{extension}", who,
                     query_string={"from": "2026-11-01", "to": "2026-11-30"})


def test_csv_lists_every_transfer_of_the_period_with_masked_phones(app, make, world):
    seed(app, world)
    response = fetch(make, world, world.staff_a, "csv")
    assert response.status_code == 200 and response.content_type.startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == HEADER
    lines = [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]
    assert [(r["类型"], r["积分"], r["关联"]) for r in lines] == [
        ("service", "30", "attendance:2"), ("redeem", "20", "redemption:1"),
        ("refund", "20", "redemption:1")]
    first = lines[0]
    assert (first["转出账户"], first["转入账户"]) == ("发放", "居民")
    assert first["转入手机"] == "138****5678" and "13812345678" not in text
    assert first["转入居民"] == "'=HYPERLINK(1)"  # quoted, not a live formula
    assert first["操作人"] == str(world.staff_a.id) and first["转入后余额"] == "70"
    assert first["时间"] == "2026-11-03T09:00:00+08:00"


def test_xlsx_holds_the_same_rows(app, make, world):
    seed(app, world)
    response = fetch(make, world, world.staff_a, "xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == HEADER and len(rows) == 4
    assert [(r[2], r[4]) for r in rows[1:]] == [("service", 30), ("redeem", 20), ("refund", 20)]
    assert rows[1][10] == "138****5678"


def test_export_is_for_the_community_staff(make, world):
    for extension in ("csv", "xlsx"):
        assert fetch(make, world, world.leader_a, extension).status_code == 403
        assert fetch(make, world, world.staff_b, extension).status_code == 403
        assert fetch(make, world, world.resident_a, extension).status_code == 403
