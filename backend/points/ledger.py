"""Moving points. Helpers here only flush: the calling use case commits once.

Both accounts are row-locked in id order (``FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already serialises writers), so concurrent transfers neither
deadlock nor overdraw; the CHECK on resident balances is the database's last word.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backend.common import transactions
from backend.common.clock import LOCAL_TZ, now
from backend.errors import ApiError
from backend.extensions import db
from backend.points.models import (
    Account,
    AccountKind,
    ClosedPeriod,
    Transfer,
    TransferReason,
)
from backend.refusals import INSUFFICIENT_POINTS, PERIOD_CLOSED


class TransferKeyReused(ApiError):
    def __init__(self) -> None:
        super().__init__("idempotency_key_reused", "该流水标识已用于不同的积分变动")


def account_for(community_id: int, kind: AccountKind, user_id: int | None = None) -> Account:
    """The community's system account of ``kind``, or the resident's own account.

    Resident accounts are opened when the resident joins (``join_community``);
    creating one here is the fallback, safe against a concurrent creator: the insert runs
    in a savepoint and losing the race to the unique index means reading the winner's row.
    """
    account = _find_account(community_id, kind, user_id)
    if account is not None:
        return account
    try:
        with db.session.begin_nested():
            account = Account(community_id=community_id, kind=kind, user_id=user_id, balance=0)
            db.session.add(account)
    except IntegrityError:
        account = _find_account(community_id, kind, user_id)
        if account is None:
            raise
    return account


def open_resident_account(community_id: int, user_id: int) -> None:
    """Registered with ``communities.services.on_join`` by create_app."""
    account_for(community_id, AccountKind.RESIDENT, user_id)


def _find_account(community_id: int, kind: AccountKind, user_id: int | None) -> Account | None:
    query = select(Account).where(Account.community_id == community_id, Account.kind == kind)
    query = query.where(Account.user_id == user_id if user_id is not None
                        else Account.user_id.is_(None))
    return db.session.scalar(query)


def transfer(source: Account, target: Account, amount: int, reason: TransferReason, ref: str,
             idempotency_key: str, author_id: int | None = None,
             reverses_id: int | None = None, prepared_by: int | None = None,
             served: tuple[datetime, datetime] | None = None) -> Transfer:
    """Move ``amount`` points; the same key again returns the first transfer unchanged.

    ``prepared_by`` and ``author_id`` are the two people behind points that are minted or
    given back; ``served`` is when the service or duty that earned them took place."""
    existing = db.session.scalar(select(Transfer).where(
        Transfer.idempotency_key == idempotency_key))
    if existing is not None:
        if (existing.from_account_id, existing.to_account_id, existing.amount) != \
                (source.id, target.id, amount):
            raise TransferKeyReused()
        return existing
    if amount <= 0:
        raise ValueError("a transfer moves a positive amount")
    source, target = lock_accounts(source.id, target.id)
    dated = now()
    _refuse_closed_period(source.community_id, dated)
    if source.kind == AccountKind.RESIDENT and source.balance < amount:
        raise INSUFFICIENT_POINTS(details={"balance": source.balance, "needed": amount})
    source.balance -= amount
    target.balance += amount
    row = Transfer(community_id=source.community_id, from_account_id=source.id,
                   to_account_id=target.id, amount=amount, reason=reason, ref=ref,
                   idempotency_key=idempotency_key, author_id=author_id,
                   prepared_by=prepared_by, served_from=served[0] if served else None,
                   served_to=served[1] if served else None,
                   reverses_id=reverses_id, from_balance_after=source.balance,
                   to_balance_after=target.balance, created_at=dated)
    db.session.add(row)
    db.session.flush()
    return row


def _refuse_closed_period(community_id: int, dated: datetime) -> None:
    month = dated.astimezone(LOCAL_TZ).date().replace(day=1)
    closed = db.session.scalar(select(ClosedPeriod.id).where(
        ClosedPeriod.community_id == community_id, ClosedPeriod.month == month))
    if closed is not None:
        raise PERIOD_CLOSED(month=month, details={"period": f"{month:%Y-%m}"})


def reverse(original: Transfer, idempotency_key: str, author_id: int,
            prepared_by: int) -> Transfer:
    """Undo a transfer with the opposite one (never by editing it); it keeps the original's
    reason and service time, so day totals and flows net out."""
    source = db.session.get(Account, original.to_account_id)
    target = db.session.get(Account, original.from_account_id)
    served = (original.served_from, original.served_to) if original.served_from else None
    return transfer(source, target, original.amount, original.reason, f"reversal:{original.id}",
                    idempotency_key, author_id, reverses_id=original.id,
                    prepared_by=prepared_by, served=served)


def lock(account_id: int) -> Account:
    """Row-lock one account, e.g. before a rule reads what it already received."""
    account = transactions.lock(Account, account_id)
    assert account is not None, account_id  # callers hold the id of an existing account
    return account


def lock_accounts(first_id: int, second_id: int) -> tuple[Account, Account]:
    """Row-lock both accounts in id order (the one order every use case takes)."""
    rows = transactions.lock_where(
        select(Account).where(Account.id.in_((first_id, second_id))).order_by(Account.id))
    by_id = {row.id: row for row in rows}
    return by_id[first_id], by_id[second_id]


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def backing_check(name: str, community_id: int, reason: TransferReason, backing: Any,
                  backed_when: Any, what: str) -> Check:
    """Each transfer of ``reason`` (a reversal aside) has its ``backing`` row, matched by
    ``backed_when``: the shape of every domain's "no points from nowhere" check."""
    orphans = list(db.session.scalars(
        select(Transfer.id).outerjoin(backing, backed_when)
        .where(Transfer.community_id == community_id, Transfer.reason == reason,
               Transfer.reverses_id.is_(None), backing.id.is_(None))
        .order_by(Transfer.id).limit(10)))
    return Check(name, not orphans,
                 f"{reason.value} transfers without {what}: {orphans}" if orphans
                 else f"every {reason.value} transfer has {what}")


def invariant_checks(community_id: int) -> list[Check]:
    """SPEC §6 invariants, computed from the entries (never from the stored balances)."""
    accounts = db.session.execute(
        select(Account.id, Account.kind, Account.balance)
        .where(Account.community_id == community_id)).all()
    outgoing = dict(db.session.execute(
        select(Transfer.from_account_id, func.sum(Transfer.amount))
        .where(Transfer.community_id == community_id)
        .group_by(Transfer.from_account_id)).all())
    incoming = dict(db.session.execute(
        select(Transfer.to_account_id, func.sum(Transfer.amount))
        .where(Transfer.community_id == community_id)
        .group_by(Transfer.to_account_id)).all())
    computed = {a.id: (incoming.get(a.id) or 0) - (outgoing.get(a.id) or 0) for a in accounts}
    mismatched = [a.id for a in accounts if computed[a.id] != a.balance]
    negative = [a.id for a in accounts
                if a.kind == AccountKind.RESIDENT and computed[a.id] < 0]
    total = sum(computed.values())
    return [
        Check("sum_of_accounts_is_zero", total == 0, f"sum={total}"),
        Check("stored_balances_match_entries", not mismatched,
              f"mismatched accounts: {mismatched}" if mismatched else "all match"),
        Check("no_negative_resident_balance", not negative,
              f"negative accounts: {negative}" if negative else "none negative"),
    ]
