"""Resident views of the ledger (SPEC §6): balance, totals, statement."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, or_, select

from backend.auth.models import User
from backend.communities.access import residency
from backend.communities.models import Community
from backend.extensions import db
from backend.points.expiry import expiring
from backend.points.models import Account, AccountKind, Transfer, TransferReason

EARNING = (TransferReason.SERVICE, TransferReason.DUTY)


def resident_account(user: User) -> Account | None:
    resident = residency(user)
    if resident is None:
        return None
    return db.session.scalar(select(Account).where(
        Account.community_id == resident.community_id, Account.kind == AccountKind.RESIDENT,
        Account.user_id == user.id))


def summary(user: User) -> dict[str, Any]:
    """Balance, what was earned (service, duty) and what was spent net of refunds."""
    account = resident_account(user)
    if account is None:
        return {"balance": 0, "earned_total": 0, "spent_total": 0, "expiring": []}
    incoming = Transfer.to_account_id == account.id
    outgoing = Transfer.from_account_id == account.id
    earned, redeemed, refunded = db.session.execute(select(
        func.coalesce(func.sum(case((incoming & Transfer.reason.in_(EARNING),
                                     Transfer.amount))), 0),
        func.coalesce(func.sum(case((outgoing & (Transfer.reason == TransferReason.REDEEM),
                                     Transfer.amount))), 0),
        func.coalesce(func.sum(case((incoming & (Transfer.reason == TransferReason.REFUND),
                                     Transfer.amount))), 0),
    ).where(or_(incoming, outgoing))).one()
    community = db.session.get(Community, account.community_id)
    return {"balance": account.balance, "earned_total": earned,
            "spent_total": redeemed - refunded, "expiring": expiring(account, community)}


def statement(user: User):
    """The resident's transfers, newest first (a query for pagination)."""
    account = resident_account(user)
    account_id = account.id if account is not None else -1
    return (select(Transfer)
            .where(or_(Transfer.to_account_id == account_id,
                       Transfer.from_account_id == account_id))
            .order_by(Transfer.id.desc())), account_id


def statement_entry(transfer: Transfer, account_id: int) -> dict[str, Any]:
    """One line as the resident sees it: signed amount and their balance after it."""
    incoming = transfer.to_account_id == account_id
    return {"id": transfer.id, "amount": transfer.amount if incoming else -transfer.amount,
            "reason": transfer.reason, "ref": transfer.ref, "created_at": transfer.created_at,
            "balance_after": transfer.to_balance_after if incoming
            else transfer.from_balance_after}
