"""Backup and restore (issue 19): a dump of a live database restored into a fresh
PostgreSQL cluster holds every row, sits at the migrations' head, and passes every ledger
check (`flask check-ledger`); a restore into a database that holds tables is refused; and
the ledger check fails on a restored ledger that does not add up."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from backend.extensions import db
from scripts.services import PostgresServer
from tests.conftest import ON_POSTGRES
from tests.test_checkin_approval import START, after, approve, attend, confirm, signed_up

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("users", "communities", "residents", "activities", "signups", "scans", "attendances",
          "point_accounts", "point_transfers",
          "audit_log")


def run(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LINLI_DATABASE_URL": database_url, "LINLI_ENV": "test"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {table: connection.scalar(text(f"SELECT count(*) FROM {table}"))
                    for table in TABLES}
    finally:
        engine.dispose()


@pytest.fixture
def history(app, make, world):
    """Service credited the way it is in production: three activities on three days, each
    scanned in and out, confirmed by the leader and approved by staff."""
    for day in range(3):
        starts = START + timedelta(days=day)
        activity = signed_up(make, world, starts=starts)
        attendance = attend(app, make, world.leader_a, activity, world.resident_a, starts, 60)
        with after(starts):
            assert confirm(make, world.leader_a, activity).status_code == 200
            assert approve(make, world.staff_a, [attendance["id"]]).status_code == 200
    return world


@pytest.fixture
def fresh_cluster():
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.postgres_only
def test_a_dump_restored_into_a_fresh_cluster_holds_everything_and_reconciles(
        app, history, fresh_cluster, tmp_path, database_url):
    backup = tmp_path / "linli.dump"
    dumped = run("-m", "scripts.backup", "dump", str(backup), database_url=database_url)
    assert dumped.returncode == 0, dumped.stderr
    target = fresh_cluster.create_database("linli_restored")

    restored = run("-m", "scripts.backup", "restore", str(backup), database_url=target)

    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "2 communities checked, 0 check(s) failed" in restored.stdout
    assert counts(target) == counts(database_url)
    assert counts(target)["point_transfers"] == 3

    again = run("-m", "scripts.backup", "restore", str(backup), database_url=target)
    assert again.returncode == 2 and "restore into an empty database" in again.stderr


@pytest.mark.postgres_only
def test_the_ledger_check_fails_on_a_restored_ledger_that_does_not_add_up(
        app, history, fresh_cluster, tmp_path, database_url):
    backup = tmp_path / "linli.dump"
    assert run("-m", "scripts.backup", "dump", str(backup),
               database_url=database_url).returncode == 0
    target = fresh_cluster.create_database("linli_tampered")
    assert run("-m", "scripts.backup", "restore", str(backup),
               database_url=target).returncode == 0
    engine = create_engine(target)
    with engine.begin() as connection:  # a stored balance the entries do not back
        connection.execute(text("UPDATE point_accounts SET balance = balance + 7 WHERE id = "
                                "(SELECT min(id) FROM point_accounts WHERE kind = 'resident')"))
    engine.dispose()

    checked = run("-m", "flask", "--app", "backend", "check-ledger", database_url=target)

    assert checked.returncode == 1
    assert "FAIL" in checked.stdout and "stored_balances_match_entries" in checked.stdout
    assert "1 check(s) failed" in checked.stdout


@pytest.mark.skipif(ON_POSTGRES, reason="the SQLite path; PostgreSQL's are the tests above")
def test_sqlite_is_backed_up_and_restored_with_its_online_backup(app, history, tmp_path,
                                                                 database_url):
    backup, target = tmp_path / "linli.db.bak", f"sqlite:///{tmp_path / 'restored.db'}"
    with app.app_context():
        db.session.remove()  # the dump reads the file while nothing holds a write open
    assert run("-m", "scripts.backup", "dump", str(backup),
               database_url=database_url).returncode == 0
    restored = run("-m", "scripts.backup", "restore", str(backup), database_url=target)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert counts(target) == counts(database_url)
