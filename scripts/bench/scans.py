"""Check-in scans (SPEC §10): several leaders scanning residents' codes at once against
gunicorn + PostgreSQL, beside a bare Flask ``GET /hello`` under the same server settings.

Every resident is scanned in, then out; each leader is one client connection. Checks from
the database that every scan is one row, every resident has exactly one attendance, and
that every answer was ``ok``; exits 1 if any check fails. Beside throughput it prints the
CPU each request cost per process group (gunicorn, PostgreSQL, Redis, the client), read from
/proc: on a shared machine throughput drifts with the neighbours, CPU per request far less.

    python -m scripts.bench.scans [--residents 2000] [--leaders 8] [--concurrency 8]
        [--workers 2] [--worker-class sync] [--threads 8]

The server runs as README deploys it (``gunicorn -w 2``: gunicorn's default sync workers, one
request at a time per process, which suits short CPU-bound requests behind a proxy); with
``--worker-class gthread`` the 8 threads of a worker contend for its GIL, and the same scans
ran about a quarter slower here.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import func, insert, select

from scripts.bench.common import (
    CpuMeter,
    Gunicorn,
    GunicornSettings,
    HttpRequest,
    LoadResult,
    add_server_arguments,
    clean_env,
    format_checks,
    format_cpu_table,
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
from scripts.bench.signup_burst import migrate, seed_residents, seeding_app
from scripts.services import PostgresServer, RedisServer, install_signal_handlers

DATABASE = "linli_bench_scans"
WARMUP_REQUESTS = 200


@dataclass
class Seeded:
    activity_id: int
    resident_ids: list[int]
    leader_tokens: list[str]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench.scans",
        description="Check-in scans against gunicorn + PostgreSQL, beside a bare hello.")
    parser.add_argument("--residents", type=int, default=2000, help="residents scanned in+out")
    parser.add_argument("--leaders", type=int, default=8, help="leaders scanning at once")
    add_server_arguments(parser, concurrency=8, worker_class="sync")
    args = parser.parse_args(argv)
    if min(args.residents, args.leaders, args.concurrency, args.workers, args.threads) < 1:
        parser.error("every count must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_signal_handlers()
    settings = settings_from_args(args)
    return run_keeping_logs_on_failure("linli-bench-scans-",
                                       lambda workdir: run(args, settings, workdir))


def run(args: argparse.Namespace, settings: GunicornSettings, workdir: Path) -> bool:
    with PostgresServer() as postgres, RedisServer() as redis:
        url = postgres.create_database(DATABASE)
        version = postgres_version(postgres, DATABASE)
        # Each simulated leader scans far faster than a person: lift the per-user limit.
        app_env = production_env(url, redis.url(), SCAN_RATE_PER_MIN="10000000")
        migrate(app_env)
        print(f"seeding {args.residents} signed-up residents and {args.leaders} leaders ...",
              flush=True)
        app = seeding_app(app_env)
        app.config["CHECKIN_SIGNING_KEY"] = app_env["LINLI_CHECKIN_SIGNING_KEY"]
        databases = {"PostgreSQL": postgres.pid, "Redis": redis.pid}
        try:
            seeded = seed(app, args.residents, args.leaders)
            total = 2 * args.residents
            baseline, baseline_cpu = run_baseline(url, settings, args, total, workdir, databases)
            results, scans_cpu = run_scans(app, app_env, seeded, settings, args, workdir,
                                           databases)
            checks = verify(app, seeded, results)
        finally:
            with app.app_context():
                from backend.extensions import db

                db.session.remove()
                db.engine.dispose()
    print_report(args, settings, version, baseline, results, checks,
                 {"baseline hello": baseline_cpu, "scan (in+out)": scans_cpu})
    return all(ok for _, ok in checks)


def seed(app: Flask, residents: int, leaders: int) -> Seeded:
    """An activity under way with every resident confirmed, and ``leaders`` team leaders."""
    from backend.activities.models import Activity, ActivityStatus, Signup, SignupStatus
    from backend.auth.services import issue_token
    from backend.common.clock import now
    from backend.communities.models import TeamMember, TeamRole
    from backend.extensions import db

    with app.app_context():
        community, team, users = seed_residents(residents + leaders, "scan-bench-")
        people, leader_users = users[:residents], users[residents:]
        starts = now() - timedelta(minutes=5)
        activity = Activity(team_id=team.id, community_id=community.id, title="社区义诊",
                            starts_at=starts, ends_at=starts + timedelta(hours=3),
                            capacity=residents, confirmed_count=residents,
                            status=ActivityStatus.PUBLISHED, created_by=leader_users[0].id)
        db.session.add(activity)
        db.session.flush()
        db.session.execute(insert(Signup), [
            {"activity_id": activity.id, "user_id": user.id, "status": SignupStatus.CONFIRMED,
             "confirmed_at": now()} for user in people])
        db.session.execute(insert(TeamMember), [
            {"team_id": team.id, "user_id": user.id, "role": TeamRole.LEADER}
            for user in leader_users])
        db.session.commit()
        return Seeded(activity.id, [u.id for u in people],
                      [issue_token(u) for u in leader_users])


def run_baseline(url: str, settings: GunicornSettings, args: argparse.Namespace, total: int,
                 workdir: Path, databases: dict[str, int | None]
                 ) -> tuple[LoadResult, dict[str, float]]:
    env = clean_env({"BENCH_DATABASE_URL": url})  # hello itself touches no database
    with Gunicorn("scripts.bench.baseline_app:create_app()", env, settings,
                  workdir / "gunicorn-baseline.log") as server:
        hello = HttpRequest("GET", "/hello")
        run_load("warm-up", server.url, [hello] * WARMUP_REQUESTS, args.concurrency)
        meter = CpuMeter({"gunicorn": server.pid, **databases})
        result = run_load("baseline hello", server.url, [hello] * total, args.concurrency)
        return result, meter.per_request_ms(result.answered)


def scan_requests(app: Flask, seeded: Seeded, direction: str) -> list[HttpRequest]:
    """One scan per resident, dealt round-robin to the leaders; codes issued just now."""
    from backend.checkin import codes
    from backend.common.clock import now

    with app.app_context():
        issued = now()
        texts = [codes.issue(codes.CodeKind.PERSONAL, uid, issued).text
                 for uid in seeded.resident_ids]
    path = f"/api/v1/activities/{seeded.activity_id}/scans"
    return [HttpRequest.json("POST", path, {
        "code": text, "direction": direction, "scan_id": f"{direction}-{i}"},
        {"Authorization": f"Bearer {seeded.leader_tokens[i % len(seeded.leader_tokens)]}"})
        for i, text in enumerate(texts)]


def run_scans(app: Flask, app_env: dict[str, str], seeded: Seeded, settings: GunicornSettings,
              args: argparse.Namespace, workdir: Path, databases: dict[str, int | None]
              ) -> tuple[list[LoadResult], dict[str, float]]:
    with Gunicorn("backend:create_app()", app_env, settings,
                  workdir / "gunicorn-scans.log") as server:
        kit = f"/api/v1/activities/{seeded.activity_id}/scanner-kit"
        warmup = [HttpRequest("GET", kit, {"Authorization": f"Bearer {token}"})
                  for token in seeded.leader_tokens] * (WARMUP_REQUESTS // args.leaders)
        warm = run_load("warm-up", server.url, warmup, args.concurrency)
        if warm.statuses[200] != len(warmup):
            raise RuntimeError("warm-up failed: " + "; ".join(format_problems(warm, server)))
        calls = {direction: scan_requests(app, seeded, direction) for direction in ("in", "out")}
        meter = CpuMeter({"gunicorn": server.pid, **databases})
        results = [run_load(f"scan {direction}", server.url, calls[direction], args.concurrency,
                            keep_bodies=True) for direction in ("in", "out")]
        cpu = meter.per_request_ms(sum(result.answered for result in results))
        for result in results:
            for line in format_problems(result, server):
                print(line)
        return results, cpu


def verify(app: Flask, seeded: Seeded, results: list[LoadResult]) -> list[tuple[str, bool]]:
    from backend.checkin.models import Attendance, Scan
    from backend.extensions import db

    residents = len(seeded.resident_ids)
    with app.app_context():
        scans = db.session.scalar(select(func.count()).select_from(Scan).where(
            Scan.activity_id == seeded.activity_id))
        attendances = db.session.scalar(select(func.count()).select_from(Attendance).where(
            Attendance.activity_id == seeded.activity_id,
            Attendance.checked_in_at.is_not(None), Attendance.checked_out_at.is_not(None)))
    answers = Counter(b.get("result") for r in results for b in r.bodies if isinstance(b, dict))
    return [
        (f"scan rows={scans}", scans == 2 * residents),
        (f"attendances in+out={attendances}", attendances == residents),
        (f"ok answers={answers['ok']}", answers["ok"] == 2 * residents),
        ("zero 5xx", all(r.server_errors == 0 for r in results)),
        ("client errors=0", all(r.error_count == 0 for r in results)),
    ]


def print_report(args: argparse.Namespace, settings: GunicornSettings, version: str,
                 baseline: LoadResult, results: list[LoadResult],
                 checks: list[tuple[str, bool]], cpu: dict[str, dict[str, float]]) -> None:
    merged = LoadResult.merge("scan (in+out)", results)
    print(f"\nscans: {args.residents} residents scanned in and out by {args.leaders} leaders, "
          f"client concurrency {args.concurrency}, {settings.describe()}, PostgreSQL {version}")
    print(f"({host_description()})")
    print(format_table([baseline, *results, merged]))
    print(f"ratio (scans / bare hello throughput): {ratio(merged, baseline)}")
    print(format_cpu_table(cpu))
    hello_ms, scan_ms = (sum(cpu[name].values()) for name in ("baseline hello", "scan (in+out)"))
    print(f"ratio (hello CPU / scan CPU): {hello_ms / scan_ms:.2f}")
    print(format_checks(checks))


if __name__ == "__main__":
    sys.exit(main())
