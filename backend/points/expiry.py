"""Yearly expiry (SPEC §6): points earned in year Y expire at the end of year Y+1.

Spending consumes the oldest points first (FIFO), so what is left of year Y's points is
everything that came in up to the end of Y minus everything that went out so far
(spending, earlier expiries, negative adjustments), never more than the balance. Points
that come back (a refund, a reversal) start a new lot in the year they come back: once
a year has expired, nothing can revive it, so the job never has to look at it again.
A community opts in with ``points_expire``.

The job writes one ``expire`` transfer per resident per year (idempotency key
``expire-<account>-<year>``) and then bookmarks the community's year as done.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import case, func, select

from backend.common.clock import LOCAL_TZ, now, to_utc
from backend.common.transactions import unit_of_work
from backend.communities.models import Community
from backend.extensions import db
from backend.points.ledger import account_for, lock_accounts, transfer
from backend.points.models import Account, AccountKind, ExpiryRun, Transfer, TransferReason


def start_of_year(year: int) -> datetime:
    return to_utc(datetime.combine(date(year, 1, 1), time.min).replace(tzinfo=LOCAL_TZ))


def _earned_before(cutoff: datetime):
    return func.coalesce(func.sum(case((Transfer.created_at < cutoff, Transfer.amount))), 0)


def unspent_lots(account: Account, years: list[int]) -> dict[int, int]:
    """Per year in ``years`` (ascending): points earned in that year or before still unspent,
    cumulative, capped by the balance."""
    cutoffs = [_earned_before(start_of_year(year + 1)) for year in years]
    incoming = db.session.execute(select(*cutoffs).where(
        Transfer.to_account_id == account.id)).one()
    spent = db.session.scalar(select(func.coalesce(func.sum(Transfer.amount), 0)).where(
        Transfer.from_account_id == account.id)) or 0
    return {year: max(0, min(account.balance, earned - spent))
            for year, earned in zip(years, incoming, strict=True)}


def expiring(account: Account, community: Community) -> list[dict[str, Any]]:
    """What will expire and when (``on``: the last day it can still be spent)."""
    if not community.points_expire:
        return []
    year = now().astimezone(LOCAL_TZ).year
    lots = unspent_lots(account, [year - 1, year])
    due_now, due_next = lots[year - 1], lots[year] - lots[year - 1]
    return [{"amount": amount, "on": date(on, 12, 31)}
            for amount, on in ((due_now, year), (due_next, year + 1)) if amount > 0]


def expire_due_points() -> dict[str, int]:
    """The scheduled job: expire the points of every year that has run out."""
    year = now().astimezone(LOCAL_TZ).year - 2
    done = select(ExpiryRun.community_id).where(ExpiryRun.year == year)
    communities = list(db.session.scalars(select(Community.id).where(
        Community.points_expire.is_(True), Community.id.not_in(done))))
    db.session.rollback()  # end the read: each account gets a transaction of its own
    totals = {"accounts": 0, "points": 0}
    for community_id in communities:
        accounts, points = expire_year(community_id, year)
        totals["accounts"] += accounts
        totals["points"] += points
    return totals


def expire_year(community_id: int, year: int) -> tuple[int, int]:
    """Expire what is left of year ``year`` in one community; safe to run again."""
    accounts = points = 0
    for account_id in _candidates(community_id, year):
        expired = _expire_account(community_id, account_id, year)
        accounts, points = accounts + (expired > 0), points + expired
    # One unit per account (above), then one for the run's record: a sweep over thousands
    # of residents never holds their locks together, and a rerun skips what is done.
    with unit_of_work():
        if db.session.scalar(select(ExpiryRun.id).filter_by(community_id=community_id,
                                                            year=year)) is None:
            db.session.add(ExpiryRun(community_id=community_id, year=year,
                                     accounts_expired=accounts, points_expired=points))
    return accounts, points


def _candidates(community_id: int, year: int) -> list[int]:
    """Resident accounts that received anything up to ``year`` and still hold points."""
    ids = list(db.session.scalars(
        select(Account.id).join(Transfer, Transfer.to_account_id == Account.id).where(
            Account.community_id == community_id, Account.kind == AccountKind.RESIDENT,
            Account.balance > 0, Transfer.created_at < start_of_year(year + 1))
        .distinct().order_by(Account.id)))
    db.session.rollback()  # end the read: each account gets a transaction of its own
    return ids


def _expire_account(community_id: int, account_id: int, year: int) -> int:
    """One resident, one transaction: recomputed under both accounts' locks."""
    with unit_of_work():
        pool = account_for(community_id, AccountKind.EXPIRED)
        lock_accounts(account_id, pool.id)
        account = db.session.get(Account, account_id)
        amount = unspent_lots(account, [year])[year]
        if amount > 0:
            transfer(account, pool, amount, TransferReason.EXPIRE, f"expiry:{year}",
                     f"expire-{account_id}-{year}")
    return amount
