"""Sign-up burst (SPEC §10): N concurrent sign-ups for an S-seat activity against gunicorn +
PostgreSQL, beside a bare Flask endpoint doing one INSERT under the same server settings.

Checks from the database that exactly S are confirmed and N-S waitlisted with unique
positions, and that no request got a 5xx or failed; exits 1 if any check fails.

    python -m scripts.bench.signup_burst [--signups 2000] [--seats 30] [--concurrency 64]
        [--workers 2] [--worker-class gthread] [--threads 8]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, func, insert, select

from scripts import processes
from scripts.bench import baseline_app
from scripts.bench.common import (
    ROOT,
    Gunicorn,
    GunicornSettings,
    HttpRequest,
    LoadResult,
    add_server_arguments,
    clean_env,
    format_checks,
    format_problems,
    format_table,
    host_description,
    postgres_version,
    production_env,
    ratio,
    run_keeping_logs_on_failure,
    run_load,
    settings_from_args,
)
from scripts.processes import ProcessError
from scripts.services import PostgresServer, RedisServer, install_signal_handlers

DATABASE = "linli_bench"
WARMUP_REQUESTS = 100


@dataclass
class Seeded:
    activity_id: int
    tokens: list[str]


@dataclass
class Phase:
    result: LoadResult
    problems: list[str]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench.signup_burst",
        description="Sign-up burst against gunicorn + PostgreSQL, beside a bare-insert baseline.")
    parser.add_argument("--signups", type=int, default=2000, help="residents signing up")
    parser.add_argument("--seats", type=int, default=30, help="the activity's capacity")
    add_server_arguments(parser, concurrency=64)
    args = parser.parse_args(argv)
    if min(args.signups, args.seats, args.concurrency, args.workers, args.threads) < 1:
        parser.error("--signups, --seats, --concurrency, --workers and --threads must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_signal_handlers()
    settings = settings_from_args(args)
    return run_keeping_logs_on_failure("linli-bench-signup-",
                                       lambda workdir: run(args, settings, workdir))


def run(args: argparse.Namespace, settings: GunicornSettings, workdir: Path) -> bool:
    with PostgresServer() as postgres, RedisServer() as redis:
        url = postgres.create_database(DATABASE)
        version = postgres_version(postgres, DATABASE)
        # No mock and no RQ worker: confirmations stay queued.
        app_env = production_env(url, redis.url())
        migrate(app_env)
        print(f"seeding {args.signups} residents and a {args.seats}-seat activity ...",
              flush=True)
        app = seeding_app(app_env)
        try:
            seeded = seed(app, args.signups, args.seats)
            baseline, baseline_rows = run_baseline(url, settings, args, workdir)
            burst = run_signups(app_env, seeded, settings, args, workdir)
            checks = verify(app, seeded, burst.result, args)
        finally:
            with app.app_context():
                from backend.extensions import db

                db.session.remove()
                db.engine.dispose()
    checks.append((f"baseline rows={baseline_rows}",
                   baseline_rows == args.signups == baseline.result.statuses[201]))
    print_report(args, settings, version, baseline, burst, checks)
    return all(ok for _, ok in checks)


def migrate(app_env: dict[str, str]) -> None:
    """``flask --app backend db upgrade`` (SPEC §12), its chatter shown only on failure."""
    try:
        processes.run([sys.executable, "-m", "flask", "--app", "backend", "db", "upgrade"],
                      name="db upgrade", env=app_env, cwd=ROOT)
    except ProcessError as error:
        raise RuntimeError(str(error)) from None


def seeding_app(app_env: dict[str, str]) -> Flask:
    """An in-process app with the served app's database and token key."""
    from backend import create_app

    return create_app({
        "LINLI_ENV": "test",  # not served; the production secret checks are gunicorn's job
        "SQLALCHEMY_DATABASE_URI": app_env["LINLI_DATABASE_URL"],
        "REDIS_URL": app_env["LINLI_REDIS_URL"],
        "SECRET_KEY": app_env["LINLI_SECRET_KEY"],
    })


def migrated_app(postgres: PostgresServer, database: str) -> Flask:
    """A fresh database on ``postgres`` at the migrations' head, and an in-process app on it
    for seeding and timing queries (no Redis: nothing is enqueued)."""
    env = {"LINLI_DATABASE_URL": postgres.create_database(database),
           "LINLI_REDIS_URL": "redis://127.0.0.1:1/0", "LINLI_ENV": "test"}
    migrate(clean_env(env))
    return seeding_app({**env, "LINLI_SECRET_KEY": "bench"})


def seed_residents(count: int, openid_prefix: str) -> tuple[Any, Any, list[Any]]:
    """One community and team and ``count`` residents by bulk insert, in the caller's app
    context and transaction (flush only): (community, team, users)."""
    from backend.auth.models import User
    from backend.communities.models import Community, Resident, Team, TeamCategory
    from backend.extensions import db

    community = Community(name="压测社区", street="压测街道")
    db.session.add(community)
    db.session.flush()
    team = Team(community_id=community.id, name="志愿服务队", category=TeamCategory.SERVICE)
    db.session.add(team)
    users = list(db.session.scalars(insert(User).returning(User), [
        {"openid": f"{openid_prefix}{i:05d}", "nickname": f"邻居{i}"} for i in range(count)]))
    db.session.execute(insert(Resident), [
        {"user_id": user.id, "community_id": community.id, "real_name": f"居民{i}",
         "building": str(i // 100 + 1), "unit": "1", "room": str(i % 100 + 101)}
        for i, user in enumerate(users)])
    db.session.flush()
    return community, team, users


def seed(app: Flask, count: int, seats: int) -> Seeded:
    """``count`` residents and one published activity three days ahead with ``seats``
    seats; a bearer token per resident."""
    from backend.activities.models import Activity, ActivityStatus
    from backend.auth.services import issue_token
    from backend.common.clock import now
    from backend.extensions import db

    with app.app_context():
        community, team, users = seed_residents(count, "bench-")
        starts = now() + timedelta(days=3)
        activity = Activity(team_id=team.id, community_id=community.id, title="热门活动",
                            starts_at=starts, ends_at=starts + timedelta(hours=2),
                            capacity=seats, status=ActivityStatus.PUBLISHED,
                            created_by=users[0].id)
        db.session.add(activity)
        db.session.commit()
        return Seeded(activity.id, [issue_token(user) for user in users])


def run_baseline(url: str, settings: GunicornSettings, args: argparse.Namespace,
                 workdir: Path) -> tuple[Phase, int]:
    engine = create_engine(url)
    try:
        baseline_app.create_table(engine)
        env = clean_env({"BENCH_DATABASE_URL": url})
        with Gunicorn("scripts.bench.baseline_app:create_app()", env, settings,
                      workdir / "gunicorn-baseline.log") as server:
            call = HttpRequest("POST", "/insert")
            # Warm-up opens the pools' connections, as it does for the app below.
            run_load("warm-up", server.url, [call] * WARMUP_REQUESTS, args.concurrency)
            baseline_app.create_table(engine)  # count only the measured inserts
            result = run_load("baseline insert", server.url, [call] * args.signups,
                              args.concurrency)
            problems = format_problems(result, server)
        return Phase(result, problems), baseline_app.count_rows(engine)
    finally:
        engine.dispose()


def run_signups(app_env: dict[str, str], seeded: Seeded, settings: GunicornSettings,
                args: argparse.Namespace, workdir: Path) -> Phase:
    path = f"/api/v1/activities/{seeded.activity_id}"

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    with Gunicorn("backend:create_app()", app_env, settings,
                  workdir / "gunicorn-signup.log") as server:
        # Warm-up reads the activity (authenticated, from the database) without signing up.
        warmup = [HttpRequest("GET", path, bearer(seeded.tokens[i % len(seeded.tokens)]))
                  for i in range(WARMUP_REQUESTS)]
        warm = run_load("warm-up", server.url, warmup, args.concurrency)
        if warm.statuses[200] != WARMUP_REQUESTS:
            raise RuntimeError("warm-up failed: " + "; ".join(format_problems(warm, server)))
        calls = [HttpRequest("POST", f"{path}/signups", bearer(token)) for token in seeded.tokens]
        result = run_load("sign-up", server.url, calls, args.concurrency, keep_bodies=True)
        return Phase(result, format_problems(result, server))


def verify(app: Flask, seeded: Seeded, burst: LoadResult,
           args: argparse.Namespace) -> list[tuple[str, bool]]:
    """The SPEC §4/§10 promises, from the database and from the answers."""
    from backend.activities.models import Activity, Signup, SignupStatus
    from backend.extensions import db

    seats = min(args.seats, args.signups)
    waitlisted = args.signups - seats
    with app.app_context():
        db.session.expire_all()
        by_status = Counter({status: n for status, n in db.session.execute(
            select(Signup.status, func.count()).where(Signup.activity_id == seeded.activity_id)
            .group_by(Signup.status))})
        seqs = list(db.session.scalars(select(Signup.waitlist_seq).where(
            Signup.activity_id == seeded.activity_id,
            Signup.status == SignupStatus.WAITLISTED)))
        activity = db.session.get(Activity, seeded.activity_id)
        assert activity is not None
        counters = (activity.confirmed_count, activity.waitlist_count)
    bodies = [b for b in burst.bodies if isinstance(b, dict)]
    answered = Counter(b.get("status") for b in bodies)
    positions = sorted(b.get("waitlist_position") or 0 for b in bodies
                       if b.get("status") == "waitlisted")
    db_confirmed = by_status[SignupStatus.CONFIRMED]
    db_waitlisted = by_status[SignupStatus.WAITLISTED]
    return [
        (f"confirmed={db_confirmed}",
         db_confirmed == seats == answered["confirmed"] == counters[0]),
        (f"waitlisted={db_waitlisted}",
         db_waitlisted == waitlisted == answered["waitlisted"] == counters[1]),
        ("unique positions",
         len(set(seqs)) == len(seqs) == waitlisted and None not in seqs
         and positions == list(range(1, waitlisted + 1))),
        ("zero 5xx", burst.server_errors == 0),
        (f"client errors={burst.error_count}", burst.error_count == 0),
        (f"201 x{burst.statuses[201]}", burst.statuses[201] == args.signups),
    ]


def print_report(args: argparse.Namespace, settings: GunicornSettings, version: str,
                 baseline: Phase, burst: Phase, checks: list[tuple[str, bool]]) -> None:
    print(f"\nsign-up burst: {args.signups} sign-ups, {args.seats} seats, client concurrency "
          f"{args.concurrency}, {settings.describe()}, PostgreSQL {version}")
    print(f"({host_description()})")
    print(format_table([baseline.result, burst.result]))
    print(f"ratio (sign-up / baseline throughput): {ratio(burst.result, baseline.result)}")
    print(format_checks(checks))
    for line in baseline.problems + burst.problems:
        print(line)


if __name__ == "__main__":
    sys.exit(main())
