"""The ledger export (SPEC §6): every transfer of a period, as CSV or XLSX, for staff.

Residents are named in full (staff of the community see that anyway) but phone numbers
are masked (SPEC §3). Every cell is written through ``common.cells`` (formula-looking text
stays text, control characters are dropped).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from backend.auth.models import User
from backend.common import cells
from backend.common.clock import LOCAL_TZ, local_midnight
from backend.common.replica import report_reads
from backend.communities.access import mask_phone, require_staff
from backend.communities.models import Resident
from backend.communities.services import get_community
from backend.extensions import db
from backend.points.models import Account, Transfer

HEADER = ["流水号", "时间", "类型", "关联", "积分", "转出账户", "转出居民", "转出手机",
          "转入账户", "转入居民", "转入手机", "转出后余额", "转入后余额", "操作人"]
KIND_NAMES = {"resident": "居民", "issued": "发放", "redeemed": "兑换", "expired": "过期",
              "adjustments": "调整"}


@report_reads  # one snapshot on the replica when it keeps up
def ledger_rows(actor: User, community_id: int, first_day: date,
                last_day: date) -> Iterator[list[Any]]:
    """The header, then one row per transfer dated in the period, oldest first."""
    get_community(community_id)
    require_staff(actor, community_id)
    return _rows(community_id, first_day, last_day)


def _rows(community_id: int, first_day: date, last_day: date) -> Iterator[list[Any]]:
    yield HEADER
    start, end = local_midnight(first_day), local_midnight(last_day, next_day=True)
    sides = [(aliased(Account), aliased(Resident), aliased(User)) for _ in range(2)]
    query = select(Transfer, *[c for side in sides for c in side]).where(
        Transfer.community_id == community_id, Transfer.created_at >= start,
        Transfer.created_at < end).order_by(Transfer.id)
    for (account, resident, user), column in zip(
            sides, (Transfer.from_account_id, Transfer.to_account_id), strict=True):
        query = (query.join(account, account.id == column)
                 .outerjoin(resident, resident.user_id == account.user_id)
                 .outerjoin(user, user.id == account.user_id))
    for row in db.session.execute(query.execution_options(yield_per=1000)):
        yield _line(row[0], row[1:4], row[4:7])


def _line(transfer: Transfer, source: tuple, target: tuple) -> list[Any]:
    return [transfer.id, transfer.created_at.astimezone(LOCAL_TZ).isoformat(),
            str(transfer.reason), transfer.ref, transfer.amount, *_party(*source),
            *_party(*target), transfer.from_balance_after, transfer.to_balance_after,
            transfer.author_id or ""]


def _party(account: Account, resident: Resident | None, user: User | None) -> list[str]:
    name = resident.real_name if resident else (f"用户{account.user_id}" if account.user_id
                                                else "")
    phone = mask_phone(user.phone) if user is not None else None
    return [KIND_NAMES.get(str(account.kind), str(account.kind)), name, phone or ""]


def as_csv(rows: Iterator[list[Any]]) -> Iterator[str]:
    """CSV text chunk by chunk, with a BOM so that Excel reads it as UTF-8."""
    return cells.csv_chunks(rows)


def as_xlsx(rows: Iterator[list[Any]]) -> bytes:
    return cells.xlsx_bytes("积分流水", rows)
