"""The street's view benchmark (SPEC §9a, §10): the street overview and the yearly team
assessment over a district-sized PostgreSQL database, beside same-run baseline queries.

Seeded with one ``INSERT … SELECT generate_series`` per table (schema from the real
migrations): ``--communities`` communities of ``--residents`` residents and three teams
each, ``--activities`` activities over 2025 with ``--per-activity`` attendances each
(defaults: 300 × 1,000 residents, 30,000 activities × 34 ≈ 1,020,000 attendances; nine in
ten approved, one in ten a no-show), a service credit per approved attendance, a
redemption per twenty, ten ratings per activity and 30 needs per community.

Measured (median of ``--repeat`` runs, in ms), each through the service the API calls:
- baseline: ``count(*)`` of the year's attendances (joined to their activities, the least
  any per-period figure must touch), and a bare ``count(*)`` over ``attendances``;
- the overview for one page of 100 communities over the year and over one month, and all
  its pages (every community) for the year;
- the yearly assessment of one community's teams, and of every community in turn;
- the same overview page and assessment again with migration 0011's indexes dropped.
Exits 1 if the overview disagrees with a plain SQL count for the checked community.

    python -m scripts.bench.voice [--communities 300] [--residents 1000]
        [--activities 30000] [--per-activity 34] [--repeat 5]
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

from scripts.bench.common import host_description, run_keeping_logs_on_failure
from scripts.bench.signup_burst import migrated_app
from scripts.services import PostgresServer, install_signal_handlers

DATABASE = "linli_bench_voice"
ADMIN_OPENID = "bench-street-admin"
YEAR_FIRST, YEAR_LAST = date(2025, 1, 1), date(2025, 12, 31)
MONTH_FIRST, MONTH_LAST = date(2025, 6, 1), date(2025, 6, 30)

SEED = [
    ("communities", """
INSERT INTO communities (name, street, noshow_limit, noshow_window_days, suspension_days,
    points_per_hour, max_points_per_hour, max_points_per_shift, points_expire, created_at)
SELECT '社区' || c, '压测街道', 3, 90, 30, 10, 30, 50, false, now()
FROM generate_series(1, :communities) AS c"""),
    ("users", """
INSERT INTO users (openid, nickname, created_at, token_version)
SELECT 'b-' || g, '邻居' || g, now(), 0 FROM generate_series(0, :people - 1) AS g"""),
    ("people", """
CREATE TABLE bench_people AS
SELECT (row_number() OVER (ORDER BY id) - 1)::int AS g, id AS user_id FROM users
WHERE openid LIKE 'b-%';
CREATE UNIQUE INDEX ON bench_people (g)"""),
    ("residents", """
INSERT INTO residents (user_id, community_id, real_name, building, unit, room, joined_at)
SELECT p.user_id, c.id, '居民' || p.g, (p.g % 30)::text, '1', (p.g % 1000)::text,
       timestamp '2023-01-01' + (p.g % 900) * interval '1 day'
FROM bench_people p JOIN communities c ON c.id = 1 + p.g / :residents"""),
    # (a fresh database: communities are 1..N, so person g lives in community 1 + g / R)
    ("teams", """
INSERT INTO teams (community_id, name, category, created_at)
SELECT c.id, '队伍' || t, (ARRAY['service','culture_sports','mediation'])[t], now()
FROM communities c CROSS JOIN generate_series(1, 3) AS t;
CREATE TABLE bench_teams AS
SELECT id, community_id, row_number() OVER (PARTITION BY community_id ORDER BY id) AS n
FROM teams"""),
    ("team members", """
INSERT INTO team_members (team_id, user_id, role, created_at)
SELECT t.id, p.user_id, CASE WHEN k < 2 THEN 'leader' ELSE 'member' END,
       timestamp '2024-06-01'
FROM bench_teams t CROSS JOIN generate_series(0, 14) AS k
JOIN bench_people p ON p.g = (t.community_id - 1) * :residents + (t.n - 1) * 15 + k"""),
    ("activities", """
INSERT INTO activities (team_id, community_id, title, description, location, starts_at,
    ends_at, capacity, walk_ins_allowed, self_checkin_allowed, status, confirmed_count,
    created_by, created_at)
SELECT t.id, t.community_id, '活动' || a, '', '', s.starts, s.starts + interval '2 hours',
       100, false, false, CASE WHEN a % 50 = 49 THEN 'cancelled' ELSE 'published' END,
       0, 1, now()
FROM generate_series(0, :activities - 1) AS a
CROSS JOIN LATERAL (SELECT timestamp '2024-12-31 16:00' + (a % 364) * interval '1 day'
                           + (a % 10) * interval '1 hour' AS starts) s
JOIN bench_teams t ON t.community_id = 1 + a % :communities
                  AND t.n = 1 + (a / :communities) % 3"""),
    ("attendances", """
INSERT INTO attendances (activity_id, community_id, user_id, walk_in, served_minutes,
    corrected_minutes, minutes, status, confirmed_by, confirmed_at, created_at)
SELECT v.id, v.community_id, p.user_id, false, m.minutes,
       CASE WHEN j % 17 = 0 THEN m.minutes END, m.minutes, m.status,
       CASE WHEN m.status <> 'no_show' THEN 1 END,
       CASE WHEN m.status <> 'no_show' THEN v.ends_at + ((v.id + j) % 10) * interval '1 day'
       END, v.ends_at
FROM activities v
CROSS JOIN generate_series(0, :per_activity - 1) AS j
CROSS JOIN LATERAL (SELECT CASE WHEN j % 10 = 9 THEN 'no_show' ELSE 'approved' END AS status,
                           CASE WHEN j % 10 = 9 THEN 0 ELSE 60 + (v.id + j) % 60 END
                           AS minutes) m
JOIN bench_people p ON p.g = (v.community_id - 1) * :residents
                             + (v.id * 7 + j) % :residents"""),
    ("accounts", """
INSERT INTO point_accounts (community_id, kind, user_id, balance, created_at)
SELECT c.id, k, NULL, 0, now() FROM communities c
CROSS JOIN unnest(ARRAY['issued','redeemed','expired','adjustments']) AS k;
INSERT INTO point_accounts (community_id, kind, user_id, balance, created_at)
SELECT community_id, 'resident', user_id, 0, now() FROM residents"""),
    ("service transfers", """
INSERT INTO point_transfers (community_id, from_account_id, to_account_id, amount, reason,
    ref, author_id, prepared_by, idempotency_key, from_balance_after, to_balance_after,
    created_at)
SELECT a.community_id, i.id, r.id, a.minutes / 6, 'service', 'attendance:' || a.id, 2, 1,
       'svc-' || a.id, 0, 0, a.confirmed_at + interval '1 day'
FROM attendances a
JOIN point_accounts i ON i.community_id = a.community_id AND i.kind = 'issued'
JOIN point_accounts r ON r.community_id = a.community_id AND r.user_id = a.user_id
WHERE a.status = 'approved' AND a.minutes >= 6"""),
    ("redemptions", """
INSERT INTO point_transfers (community_id, from_account_id, to_account_id, amount, reason,
    ref, idempotency_key, from_balance_after, to_balance_after, created_at)
SELECT t.community_id, t.to_account_id, d.id, 5, 'redeem', 'redemption:b' || t.id,
       'red-' || t.id, 0, 0, t.created_at + interval '2 days'
FROM point_transfers t
JOIN point_accounts d ON d.community_id = t.community_id AND d.kind = 'redeemed'
WHERE t.reason = 'service' AND t.id % 20 = 0"""),
    ("evaluations", """
INSERT INTO evaluations (activity_id, user_id, rating, hidden, created_at)
SELECT a.activity_id, a.user_id, 1 + (a.id % 5), a.id % 97 = 0, now()
FROM attendances a WHERE a.status = 'approved' AND a.id % 3 = 0"""),
    ("needs", """
INSERT INTO needs (community_id, author_id, title, description, category, status, team_id,
    triaged_by, triaged_at, created_at, supporters)
SELECT c.id, p.user_id, '需求' || n, '', 'other',
       (ARRAY['open','accepted','done','declined'])[1 + n % 4],
       CASE WHEN n % 4 IN (1, 2) THEN (SELECT min(id) FROM teams WHERE community_id = c.id)
       END, CASE WHEN n % 4 <> 0 THEN 1 END,
       CASE WHEN n % 4 <> 0 THEN timestamp '2025-01-10' + n * interval '10 days' END,
       timestamp '2025-01-01' + n * interval '10 days', 1
FROM communities c CROSS JOIN generate_series(0, 29) AS n
JOIN bench_people p ON p.g = (c.id - 1) * :residents + n"""),
]

RECREATE = {
    "ix_evaluations_activity_hidden_rating":
        "CREATE INDEX ix_evaluations_activity_hidden_rating ON evaluations "
        "(activity_id, hidden, rating)",
    "ix_attendances_activity_status_minutes":
        "CREATE INDEX ix_attendances_activity_status_minutes ON attendances "
        "(activity_id, status, minutes, user_id)",
    "ix_residents_community_joined":
        "CREATE INDEX ix_residents_community_joined ON residents (community_id, joined_at)",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.voice",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--communities", type=int, default=300)
    parser.add_argument("--residents", type=int, default=1000, help="per community")
    parser.add_argument("--activities", type=int, default=30_000)
    parser.add_argument("--per-activity", type=int, default=34, help="attendances each")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs; the median counts")
    args = parser.parse_args(argv)
    if min(args.communities, args.activities, args.repeat) < 1 or not (
            args.residents >= 45 and 1 <= args.per_activity <= args.residents):
        parser.error("need >= 1 communities, activities and repeats, >= 45 residents, "
                     "1 <= --per-activity <= --residents")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_signal_handlers()
    return run_keeping_logs_on_failure("linli-bench-voice-", lambda workdir: run(args, workdir))


def run(args: argparse.Namespace, workdir: Path) -> bool:
    with PostgresServer() as postgres:
        app = migrated_app(postgres, DATABASE)
        app.config["BOOTSTRAP_ADMIN_OPENIDS"] = [ADMIN_OPENID]
        with app.app_context():
            from backend.extensions import db

            try:
                return measure(args)
            finally:
                db.session.remove()
                db.engine.dispose()


def measure(args: argparse.Namespace) -> bool:
    from backend.auth.models import User
    from backend.extensions import db

    version = db.session.execute(text("SHOW server_version")).scalar()
    admin = User(openid=ADMIN_OPENID, nickname="街道管理员")
    db.session.add(admin)
    db.session.commit()
    sizes = seed(args)
    timings = time_everything(admin, args)
    ok, detail = check(admin)
    print_report(args, version, sizes, timings, ok, detail)
    return ok


def seed(args: argparse.Namespace) -> dict[str, int]:
    from backend.extensions import db

    params = {"communities": args.communities, "residents": args.residents,
              "people": args.communities * args.residents, "activities": args.activities,
              "per_activity": args.per_activity}
    for name, sql in SEED:
        started = time.perf_counter()
        for statement in sql.split(";"):
            db.session.execute(text(statement), params)
        # Fresh statistics before the next step reads this one's rows: with an empty
        # table's estimates a step's join can pick a plan that runs for many minutes.
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        print(f"seeded {name:<18} {time.perf_counter() - started:6.1f}s", flush=True)
    analyze()
    return {table: db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("communities", "residents", "activities", "attendances",
                          "point_transfers", "evaluations", "needs")}


def analyze() -> None:
    from backend.extensions import db

    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def time_everything(admin: Any, args: argparse.Namespace) -> dict[str, float]:
    from backend.extensions import db
    from backend.voice.assessment import assess_teams
    from backend.voice.overview import street_overview

    pages = (args.communities + 99) // 100

    def every_community() -> None:
        for cid in range(1, args.communities + 1):
            assess_teams(admin, cid, 2025)

    runs: dict[str, Callable[[], Any]] = {
        "baseline: count(*) of the year's attendances": lambda: db.session.execute(text(
            "SELECT count(*) FROM attendances a JOIN activities v ON v.id = a.activity_id "
            "WHERE v.starts_at >= '2024-12-31 16:00' AND v.starts_at < '2025-12-31 16:00'"
        )).scalar(),
        "baseline: count(*) FROM attendances": lambda: db.session.execute(
            text("SELECT count(*) FROM attendances")).scalar(),
        "overview, 100 communities, one year": lambda: street_overview(
            admin, YEAR_FIRST, YEAR_LAST, 1, 100),
        "overview, 100 communities, one month": lambda: street_overview(
            admin, MONTH_FIRST, MONTH_LAST, 1, 100),
        f"overview, all {pages} pages, one year": lambda: [
            street_overview(admin, YEAR_FIRST, YEAR_LAST, page, 100)
            for page in range(1, pages + 1)],
        "assessment, one community (3 teams)": lambda: assess_teams(admin, 1, 2025),
        f"assessment, all {args.communities} communities": every_community,
    }
    timings = {name: median_ms(call, args.repeat if "all" not in name else 1)
               for name, call in runs.items()}
    for name in RECREATE:
        db.session.execute(text(f"DROP INDEX {name}"))
    db.session.commit()
    analyze()
    timings["overview, 100 communities, one year — without 0011's indexes"] = median_ms(
        runs["overview, 100 communities, one year"], args.repeat)
    timings["assessment, one community — without 0011's indexes"] = median_ms(
        runs["assessment, one community (3 teams)"], args.repeat)
    for statement in RECREATE.values():
        db.session.execute(text(statement))
    db.session.commit()
    return timings


def median_ms(call: Callable[[], Any], repeat: int) -> float:
    from backend.extensions import db

    call()  # warm: caches, plans
    samples = []
    for _ in range(repeat):
        db.session.rollback()
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def check(admin: Any) -> tuple[bool, str]:
    """Community 1's overview row against plain SQL over the same rows."""
    from backend.extensions import db
    from backend.voice.overview import street_overview

    row = street_overview(admin, YEAR_FIRST, YEAR_LAST, 1, 1)["items"][0]
    minutes, volunteers = db.session.execute(text(
        "SELECT sum(a.minutes), count(DISTINCT a.user_id) FROM attendances a "
        "JOIN activities v ON v.id = a.activity_id WHERE v.community_id = 1 "
        "AND v.status = 'published' AND a.status = 'approved' AND a.minutes > 0 "
        "AND v.starts_at >= '2024-12-31 16:00' AND v.starts_at < '2025-12-31 16:00'")).one()
    issued = db.session.execute(text(
        "SELECT sum(amount) FROM point_transfers WHERE community_id = 1 AND reason = 'service' "
        "AND created_at >= '2024-12-31 16:00' AND created_at < '2025-12-31 16:00'")).scalar()
    ok = (row["volunteer_hours"] == round((minutes or 0) / 60, 1)
          and row["active_volunteers"] == volunteers and row["points_issued"] == (issued or 0))
    return ok, (f"community 1: {row['volunteer_hours']} h, {row['active_volunteers']} "
                f"volunteers, {row['points_issued']} points issued (SQL: "
                f"{round((minutes or 0) / 60, 1)} h, {volunteers}, {issued})")


def print_report(args: argparse.Namespace, version: str, sizes: dict[str, int],
                 timings: dict[str, float], ok: bool, detail: str) -> None:
    print(f"\nStreet's view benchmark — PostgreSQL {version}, {host_description()}")
    print("rows: " + ", ".join(f"{table} {count:,}" for table, count in sizes.items()))
    print(f"median of {args.repeat} runs (the 'all' rows: one run), ms")
    baseline = timings["baseline: count(*) of the year's attendances"]
    for name, value in timings.items():
        print(f"  {name:<64}{value:>10.1f}{value / baseline:>8.1f}×")
    print(f"\n  [{'ok' if ok else 'FAIL'}] {detail}")


if __name__ == "__main__":
    raise SystemExit(main())
