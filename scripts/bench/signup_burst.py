"""Sign-up burst (SPEC §10): 2,000 concurrent sign-ups for a 30-seat activity against
gunicorn + PostgreSQL, beside a bare Flask endpoint doing one INSERT under the same
server settings. Checks exactly 30 confirmed, the rest waitlisted with unique positions,
and zero 5xx; exits non-zero otherwise.

    python -m scripts.bench.signup_burst [--signups 2000] [--seats 30] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import func, insert, select

from scripts.bench.baseline_app import create_table
from scripts.bench.common import TABLE_HEADER, Gunicorn, ratio, run_load, server_settings
from scripts.services import PostgresServer, install_signal_handlers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=2000)
    parser.add_argument("--seats", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args(argv)
    install_signal_handlers()
    with PostgresServer() as postgres:
        url = postgres.create_database("linli_bench")
        activity_id, tokens = seed(url, args.signups, args.seats)
        create_table(url)
        baseline = run_baseline(url, args)
        burst = run_signups(url, activity_id, tokens, args)
        checks = verify(url, activity_id, burst, args)
        version = postgres.connect("postgres").execute("SHOW server_version").fetchone()[0]
    print(f"\nsign-up burst: {args.signups} sign-ups, {args.seats} seats, client concurrency "
          f"{args.concurrency}, {server_settings()}, PostgreSQL {version}")
    print(TABLE_HEADER)
    print(baseline.row())
    print(burst.row())
    print(f"ratio (sign-up / baseline throughput): {ratio(burst, baseline)}")
    print("statuses: " + ", ".join(f"{k}={v}" for k, v in sorted(burst.statuses.items())))
    print("checks: " + ", ".join(f"{name} {'PASS' if ok else 'FAIL'}" for name, ok in checks))
    return 0 if all(ok for _, ok in checks) else 1


def seed(url: str, count: int, seats: int) -> tuple[int, list[str]]:
    """Migrate, then one community, one team, ``count`` residents, one published activity."""
    from flask_migrate import upgrade

    from backend import create_app
    from backend.activities.models import Activity, ActivityStatus
    from backend.auth.models import User
    from backend.auth.services import issue_token
    from backend.common.clock import now
    from backend.communities.models import Community, Resident, Team, TeamCategory
    from backend.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        community = Community(name="压测社区", street="压测街道")
        db.session.add(community)
        db.session.flush()
        team = Team(community_id=community.id, name="志愿服务队", category=TeamCategory.SERVICE)
        db.session.add(team)
        user_ids = list(db.session.scalars(insert(User).returning(User.id), [
            {"openid": f"bench-{i}", "nickname": "邻居"} for i in range(count)]))
        db.session.execute(insert(Resident), [
            {"user_id": uid, "community_id": community.id, "real_name": "压测居民",
             "building": "1", "unit": "1", "room": str(i)} for i, uid in enumerate(user_ids)])
        db.session.flush()
        starts = now() + timedelta(days=3)
        activity = Activity(team_id=team.id, community_id=community.id, title="热门活动",
                            starts_at=starts, ends_at=starts + timedelta(hours=2),
                            capacity=seats, status=ActivityStatus.PUBLISHED,
                            created_by=user_ids[0])
        db.session.add(activity)
        db.session.commit()
        tokens = [issue_token(SimpleNamespace(id=uid)) for uid in user_ids]
        return activity.id, tokens


def run_baseline(url: str, args: argparse.Namespace):
    def call(session):
        return session.post(f"{server.url}/insert", timeout=60)

    with Gunicorn("scripts.bench.baseline_app:create_app()",
                  {"BENCH_DATABASE_URL": url}) as server:
        run_load("warm-up", [call] * 100, args.concurrency)
        return run_load("baseline insert", [call] * args.signups, args.concurrency)


def run_signups(url: str, activity_id: int, tokens: list[str], args: argparse.Namespace):
    def sign_up(token):
        def call(session):
            return session.post(f"{server.url}/api/v1/activities/{activity_id}/signups",
                                headers={"Authorization": f"Bearer {token}"}, timeout=60)
        return call

    def warm(session):
        return session.get(f"{server.url}/healthz", timeout=60)

    with Gunicorn("backend:create_app()", {"LINLI_DATABASE_URL": url}) as server:
        run_load("warm-up", [warm] * 100, args.concurrency)
        return run_load("sign-up", [sign_up(t) for t in tokens], args.concurrency,
                        keep_bodies=True)


def verify(url: str, activity_id: int, burst, args) -> list[tuple[str, bool]]:
    from backend import create_app
    from backend.activities.models import Signup, SignupStatus
    from backend.extensions import db

    with create_app({"SQLALCHEMY_DATABASE_URI": url}).app_context():
        by_status = dict(db.session.execute(
            select(Signup.status, func.count()).where(Signup.activity_id == activity_id)
            .group_by(Signup.status)).all())
        seqs = db.session.scalars(select(Signup.waitlist_seq).where(
            Signup.activity_id == activity_id, Signup.waitlist_seq.is_not(None))).all()
    positions = [b.get("waitlist_position") for b in burst.bodies
                 if b.get("status") == "waitlisted"]
    waitlisted = args.signups - args.seats
    answered = Counter(b.get("status") for b in burst.bodies)
    return [
        (f"confirmed={by_status.get(SignupStatus.CONFIRMED, 0)}",
         by_status.get(SignupStatus.CONFIRMED, 0) == args.seats == answered["confirmed"]),
        (f"waitlisted={by_status.get(SignupStatus.WAITLISTED, 0)}",
         by_status.get(SignupStatus.WAITLISTED, 0) == waitlisted == answered["waitlisted"]),
        ("unique positions", sorted(positions) == list(range(1, waitlisted + 1))
         and len(set(seqs)) == len(seqs) == waitlisted),
        ("zero 5xx", burst.server_errors == 0 and not burst.errors),
    ]


if __name__ == "__main__":
    sys.exit(main())
