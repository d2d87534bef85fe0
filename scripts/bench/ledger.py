"""Ledger benchmark (SPEC §10): the reconciliation report and the invariant checks over
1,000,000 transfers on PostgreSQL, beside a same-run ``SELECT sum(amount)`` over the same
table; and a resident's balance read (the ``GET /me/points`` service path) at a small and
at the full ledger size, for a resident whose own history is the same at both sizes.

Transfers are bulk-loaded with one ``INSERT … SELECT generate_series`` per phase (duty
credits and redemptions for ``--residents`` residents, never overdrawing anyone), then the
stored balances are set from the entries, so every invariant holds and is really checked.
Exits 1 if a check fails (an invariant, the period identity, or a balance that differs).

    python -m scripts.bench.ledger [--transfers 1000000] [--small 10000]
        [--residents 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import text

from scripts.bench.common import run_keeping_logs_on_failure
from scripts.bench.signup_burst import migrated_app, seed_residents
from scripts.services import PostgresServer, install_signal_handlers

DATABASE = "linli_bench_ledger"
PROBE_HISTORY = 50  # the measured resident's own transfers, the same at every size
FIRST_DAY, LAST_DAY = date(2024, 12, 1), date(2026, 12, 31)

# Transfer i goes to resident i % R; every fourth transfer of a resident is a small
# redemption, the others credits, so nobody is ever overdrawn. Credits are loaded as duty:
# a service credit must have an approved attendance behind it, which is not seeded here.
# One a minute from 2025-01-01 (community time), in id order.
LOAD = """
INSERT INTO point_transfers (community_id, from_account_id, to_account_id, amount, reason,
    ref, author_id, idempotency_key, from_balance_after, to_balance_after, created_at)
SELECT :cid,
       CASE WHEN (i / :r) % 4 = 3 THEN b.account_id ELSE :issued END,
       CASE WHEN (i / :r) % 4 = 3 THEN :redeemed ELSE b.account_id END,
       CASE WHEN (i / :r) % 4 = 3 THEN 1 + i % 5 ELSE 5 + i % 10 END,
       CASE WHEN (i / :r) % 4 = 3 THEN 'redeem' ELSE 'duty' END,
       CASE WHEN (i / :r) % 4 = 3 THEN 'redemption:b' ELSE 'assignment:b' END || i,
       NULL, 'bench-' || i, 0, 0,
       timestamp '2024-12-31 16:00' + i * interval '1 minute'
FROM generate_series(:lo, :hi - 1) AS i
JOIN bench_residents b ON b.r = i % :r
"""

# Each redemption transfer gets the redemption behind it (SPEC §6: every redeem points at
# a redemption), all of one bench gift, handed out.
REDEMPTIONS = """
INSERT INTO redemptions (community_id, gift_id, user_id, quantity, points, status,
    pickup_code, expires_at, transfer_id, created_at, fulfilled_at)
SELECT t.community_id, :gift, a.user_id, 1, t.amount, 'fulfilled', 'B' || t.id,
       t.created_at + interval '7 days', t.id, t.created_at, t.created_at
FROM point_transfers t JOIN point_accounts a ON a.id = t.from_account_id
WHERE t.community_id = :cid AND t.reason = 'redeem'
  AND NOT EXISTS (SELECT 1 FROM redemptions r WHERE r.transfer_id = t.id);
UPDATE gifts SET stock = n, fulfilled = n
FROM (SELECT count(*) AS n FROM redemptions WHERE gift_id = :gift) c WHERE id = :gift
"""

SET_BALANCES = """
UPDATE point_accounts a SET balance = COALESCE(t.net, 0)
FROM point_accounts a2 LEFT JOIN (
    SELECT account_id, sum(net) AS net FROM (
        SELECT to_account_id AS account_id, sum(amount) AS net FROM point_transfers
        GROUP BY to_account_id
        UNION ALL
        SELECT from_account_id, -sum(amount) FROM point_transfers GROUP BY from_account_id
    ) legs GROUP BY account_id
) t ON t.account_id = a2.id
WHERE a.id = a2.id AND a.community_id = :cid
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.ledger",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--transfers", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000,
                        help="ledger size of the first measurement")
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs; the median counts")
    args = parser.parse_args(argv)
    if not 0 < args.small < args.transfers or min(args.residents, args.repeat) < 1:
        parser.error("need 0 < --small < --transfers, --residents >= 1, --repeat >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_signal_handlers()
    return run_keeping_logs_on_failure("linli-bench-ledger-", lambda workdir: run(args, workdir))


def run(args: argparse.Namespace, workdir: Path) -> bool:
    with PostgresServer() as postgres:
        app = migrated_app(postgres, DATABASE)
        with app.app_context():
            from backend.extensions import db

            try:
                return measure(args)
            finally:
                db.session.remove()
                db.engine.dispose()


def measure(args: argparse.Namespace) -> bool:
    from backend.extensions import db

    version = db.session.execute(text("SHOW server_version")).scalar()
    world = seed(args)
    rows: list[tuple[str, int, dict[str, float]]] = []
    checks: list[tuple[str, bool]] = []
    loaded = 0
    for size in (args.small, args.transfers):
        started = time.perf_counter()
        load(world, loaded, size - loaded, args.residents)
        loaded = size
        print(f"loaded {size:,} transfers in {time.perf_counter() - started:.1f}s", flush=True)
        timings, size_checks = time_everything(world, args.repeat)
        rows.append(("ledger", size, timings))
        checks += [(f"{name} at {size:,}", ok) for name, ok in size_checks]
    print_report(args, version, rows, checks)
    return all(ok for _, ok in checks)


def seed(args: argparse.Namespace) -> dict[str, Any]:
    """The community, its residents with accounts, a staff member, and the probe resident
    whose own history (credits and redemptions through the real ledger code) is fixed."""
    from backend.auth.models import User
    from backend.communities.models import Community, StaffMember
    from backend.extensions import db
    from backend.gifts.models import Gift
    from backend.points.ledger import account_for, transfer
    from backend.points.models import AccountKind, TransferReason

    community, _team, users = seed_residents(args.residents + 2, "ledger-bench-")
    db.session.get(Community, community.id).points_expire = True
    probe, staff = users[-2], users[-1]
    db.session.add(StaffMember(community_id=community.id, user_id=staff.id))
    kinds = {kind: account_for(community.id, kind).id for kind in
             (AccountKind.ISSUED, AccountKind.REDEEMED, AccountKind.EXPIRED,
              AccountKind.ADJUSTMENTS)}
    probe_account = account_for(community.id, AccountKind.RESIDENT, probe.id)
    for n in range(PROBE_HISTORY):
        spend = n % 5 == 4
        pair = (probe_account, account_for(community.id, AccountKind.REDEEMED)) if spend \
            else (account_for(community.id, AccountKind.ISSUED), probe_account)
        transfer(*pair, 3 if spend else 10, TransferReason.REDEEM if spend
                 else TransferReason.DUTY, f"probe:{n}", f"probe-{n}")
    db.session.execute(text("""
        INSERT INTO point_accounts (community_id, kind, user_id, balance, created_at)
        SELECT :cid, 'resident', u.id, 0, now() FROM users u
        WHERE u.openid LIKE 'ledger-bench-%' AND u.id NOT IN (:probe, :staff)"""),
        {"cid": community.id, "probe": probe.id, "staff": staff.id})
    db.session.execute(text("""
        CREATE TABLE bench_residents AS
        SELECT (row_number() OVER (ORDER BY id) - 1)::int AS r, id AS account_id
        FROM point_accounts WHERE community_id = :cid AND kind = 'resident' AND user_id <> :p"""),
        {"cid": community.id, "p": probe.id})
    gift = Gift(community_id=community.id, name="压测礼品", points_cost=1, stock=0,
                reserved=0, fulfilled=0)
    db.session.add(gift)
    db.session.commit()
    return {"cid": community.id, "gift": gift.id, "issued": kinds[AccountKind.ISSUED],
            "redeemed": kinds[AccountKind.REDEEMED], "probe": db.session.get(User, probe.id),
            "staff": db.session.get(User, staff.id)}


def load(world: dict[str, Any], start: int, count: int, residents: int) -> None:
    from backend.extensions import db

    db.session.execute(text(LOAD), {"cid": world["cid"], "r": residents, "lo": start,
                                    "hi": start + count, "issued": world["issued"],
                                    "redeemed": world["redeemed"]})
    for statement in REDEMPTIONS.split(";"):
        db.session.execute(text(statement), {"cid": world["cid"], "gift": world["gift"]})
    db.session.execute(text(SET_BALANCES), {"cid": world["cid"]})
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE point_transfers"))
        conn.execute(text("VACUUM ANALYZE point_accounts"))


def time_everything(world: dict[str, Any],
                    repeat: int) -> tuple[dict[str, float], list[tuple[str, bool]]]:
    from backend.extensions import db
    from backend.points.ledger import invariant_checks
    from backend.points.reconciliation import reconcile
    from backend.points.services import summary

    cid, staff, probe = world["cid"], world["staff"], world["probe"]
    runs: dict[str, Callable[[], Any]] = {
        "baseline: SELECT sum(amount)": lambda: db.session.execute(
            text("SELECT sum(amount) FROM point_transfers")).scalar(),
        "invariant checks": lambda: invariant_checks(cid),
        "reconciliation report": lambda: reconcile(staff, cid, FIRST_DAY, LAST_DAY),
        "balance read (/me/points)": lambda: summary(probe),
    }
    timings, answers = {}, {}
    for name, call in runs.items():
        answers[name] = call()  # warm: caches, plans
        samples = []
        for _ in range(repeat):
            db.session.rollback()
            started = time.perf_counter()
            call()
            samples.append((time.perf_counter() - started) * 1000)
        timings[name] = statistics.median(samples)
    report = answers["reconciliation report"]
    checks = [(check["name"], check["ok"]) for check in report["checks"]]
    checks.append(("probe balance 370", answers["balance read (/me/points)"]["balance"] == 370))
    return timings, checks


def print_report(args: argparse.Namespace, version: str,
                 rows: list[tuple[str, int, dict[str, float]]],
                 checks: list[tuple[str, bool]]) -> None:
    names = list(rows[0][2])
    print(f"\nLedger benchmark — PostgreSQL {version}, {args.residents:,} residents, "
          f"median of {args.repeat} runs (ms)")
    print(f"{'':<32}" + "".join(f"{size:>14,}" for _, size, _ in rows) + "   ×baseline (full)")
    full = rows[-1][2]
    for name in names:
        cells = "".join(f"{timings[name]:>14.1f}" for _, _, timings in rows)
        print(f"{name:<32}{cells}{full[name] / full[names[0]]:>12.1f}")
    print("\n" + "\n".join(f"  [{'ok' if ok else 'FAIL'}] {name}" for name, ok in checks))


if __name__ == "__main__":
    raise SystemExit(main())
