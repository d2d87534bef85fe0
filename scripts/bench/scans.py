"""Check-in scans (SPEC §10): several leaders scanning residents' codes at once against
gunicorn + PostgreSQL, beside a bare Flask ``GET /hello`` under the same server settings.

Every resident is scanned in, then out; each leader is one client connection. Two activities
under way, each with its own residents, are scanned in one run: one as the mini-program
sends its scans (every POST with an ``Idempotency-Key``, ``miniprogram_mock/mp/api.js``),
one with bare scans, so the header's cost is printed beside them and the bare hello. Checks from
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
class Door:
    """One activity under way and the residents signed up to it."""

    activity_id: int
    resident_ids: list[int]


@dataclass
class Seeded:
    doors: dict[str, Door]  # scans without the header, and as the mini-program sends them
    leader_tokens: list[str]


PLAIN, KEYED = "scan", "key scan"  # the second: with an Idempotency-Key


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
            checks = [check for label, door in seeded.doors.items()
                      for check in verify(app, label, door, results[label])]
        finally:
            with app.app_context():
                from backend.extensions import db

                db.session.remove()
                db.engine.dispose()
    print_report(args, settings, version, baseline, results, checks,
                 {"baseline hello": baseline_cpu, **scans_cpu})
    return all(ok for _, ok in checks)


def seed(app: Flask, residents: int, leaders: int) -> Seeded:
    """Two activities under way, each with ``residents`` of its own confirmed, and
    ``leaders`` team leaders."""
    from backend.activities.models import Activity, ActivityStatus, Signup, SignupStatus
    from backend.auth.services import issue_token
    from backend.common.clock import now
    from backend.communities.models import TeamMember, TeamRole
    from backend.extensions import db

    with app.app_context():
        community, team, users = seed_residents(2 * residents + leaders, "scan-bench-")
        leader_users = users[2 * residents:]
        starts = now() - timedelta(minutes=5)
        doors = {}
        for index, label in enumerate((PLAIN, KEYED)):
            people = users[index * residents:(index + 1) * residents]
            activity = Activity(team_id=team.id, community_id=community.id, title="社区义诊",
                                starts_at=starts, ends_at=starts + timedelta(hours=3),
                                capacity=residents, confirmed_count=residents,
                                status=ActivityStatus.PUBLISHED, created_by=leader_users[0].id)
            db.session.add(activity)
            db.session.flush()
            db.session.execute(insert(Signup), [
                {"activity_id": activity.id, "user_id": user.id,
                 "status": SignupStatus.CONFIRMED, "confirmed_at": now()} for user in people])
            doors[label] = Door(activity.id, [u.id for u in people])
        db.session.execute(insert(TeamMember), [
            {"team_id": team.id, "user_id": user.id, "role": TeamRole.LEADER}
            for user in leader_users])
        db.session.commit()
        return Seeded(doors, [issue_token(u) for u in leader_users])


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


def scan_requests(app: Flask, seeded: Seeded, label: str, direction: str
                  ) -> list[HttpRequest]:
    """One scan per resident, dealt round-robin to the leaders; codes issued just now. A
    keyed scan carries an ``Idempotency-Key`` of its own, as the mini-program's every POST."""
    from backend.checkin import codes
    from backend.common.clock import now

    door = seeded.doors[label]
    with app.app_context():
        issued = now()
        texts = [codes.issue(codes.CodeKind.PERSONAL, uid, issued).text
                 for uid in door.resident_ids]
    path = f"/api/v1/activities/{door.activity_id}/scans"
    requests = []
    for i, text in enumerate(texts):
        token = seeded.leader_tokens[i % len(seeded.leader_tokens)]
        headers = {"Authorization": f"Bearer {token}"}
        if label == KEYED:
            headers["Idempotency-Key"] = f"bench-{direction}-{i}"
        requests.append(HttpRequest.json("POST", path, {
            "code": text, "direction": direction, "scan_id": f"{direction}-{i}"}, headers))
    return requests


def run_scans(app: Flask, app_env: dict[str, str], seeded: Seeded, settings: GunicornSettings,
              args: argparse.Namespace, workdir: Path, databases: dict[str, int | None]
              ) -> tuple[dict[str, list[LoadResult]], dict[str, dict[str, float]]]:
    """The bare scans, then the keyed ones, each in and out, on one server."""
    with Gunicorn("backend:create_app()", app_env, settings,
                  workdir / "gunicorn-scans.log") as server:
        kit = f"/api/v1/activities/{seeded.doors[PLAIN].activity_id}/scanner-kit"
        warmup = [HttpRequest("GET", kit, {"Authorization": f"Bearer {token}"})
                  for token in seeded.leader_tokens] * (WARMUP_REQUESTS // args.leaders)
        warm = run_load("warm-up", server.url, warmup, args.concurrency)
        if warm.statuses[200] != len(warmup):
            raise RuntimeError("warm-up failed: " + "; ".join(format_problems(warm, server)))
        results, cpu = {}, {}
        for label in (PLAIN, KEYED):
            # Codes issued just before their run: a code lives a minute, and on a busy
            # machine the entries alone may take that long.
            results[label], used_ms = [], Counter()
            for direction in ("in", "out"):
                calls = scan_requests(app, seeded, label, direction)
                meter = CpuMeter({"gunicorn": server.pid, **databases})
                result = run_load(f"{label} {direction}", server.url, calls,
                                  args.concurrency, keep_bodies=True)
                results[label].append(result)
                for name, ms in meter.per_request_ms(result.answered).items():
                    used_ms[name] += ms * result.answered
            answered = sum(result.answered for result in results[label])
            cpu[f"{label} (in+out)"] = {name: ms / answered for name, ms in used_ms.items()}
            for result in results[label]:
                for line in format_problems(result, server):
                    print(line)
        return results, cpu


def verify(app: Flask, label: str, door: Door, results: list[LoadResult]
           ) -> list[tuple[str, bool]]:
    from backend.checkin.models import Attendance, Scan
    from backend.extensions import db

    residents = len(door.resident_ids)
    with app.app_context():
        scans = db.session.scalar(select(func.count()).select_from(Scan).where(
            Scan.activity_id == door.activity_id))
        attendances = db.session.scalar(select(func.count()).select_from(Attendance).where(
            Attendance.activity_id == door.activity_id,
            Attendance.checked_in_at.is_not(None), Attendance.checked_out_at.is_not(None)))
    answers = Counter(b.get("result") for r in results for b in r.bodies if isinstance(b, dict))
    return [
        (f"{label}: scan rows={scans}", scans == 2 * residents),
        (f"attendances in+out={attendances}", attendances == residents),
        (f"ok answers={answers['ok']}" + ("" if answers["ok"] == 2 * residents
                                          else f" {dict(answers)}"),
         answers["ok"] == 2 * residents),
        ("zero 5xx", all(r.server_errors == 0 for r in results)),
        ("client errors=0", all(r.error_count == 0 for r in results)),
    ]


def print_report(args: argparse.Namespace, settings: GunicornSettings, version: str,
                 baseline: LoadResult, results: dict[str, list[LoadResult]],
                 checks: list[tuple[str, bool]], cpu: dict[str, dict[str, float]]) -> None:
    merged = {label: LoadResult.merge(f"{label} (in+out)", runs)
              for label, runs in results.items()}
    print(f"\nscans: {args.residents} residents scanned in and out by {args.leaders} leaders, "
          f"twice (without and with an Idempotency-Key), client concurrency "
          f"{args.concurrency}, {settings.describe()}, PostgreSQL {version}")
    print(f"({host_description()})")
    print(format_table([baseline, *(row for label, runs in results.items()
                                    for row in (*runs, merged[label]))]))
    for label, row in merged.items():
        print(f"ratio ({label} / bare hello throughput): {ratio(row, baseline)}")
    print(format_cpu_table(cpu))
    hello_ms = sum(cpu["baseline hello"].values())
    for label in results:
        scan_ms = sum(cpu[f"{label} (in+out)"].values())
        print(f"ratio (hello CPU / {label} CPU): {hello_ms / scan_ms:.2f}")
    print(format_checks(checks))


if __name__ == "__main__":
    sys.exit(main())
