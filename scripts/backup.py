"""Back up Linli's database and restore it, checking the ledger on what was restored.

    python -m scripts.backup dump FILE        # the database at LINLI_DATABASE_URL → FILE
    python -m scripts.backup restore FILE     # FILE → the (empty) database at LINLI_DATABASE_URL

PostgreSQL goes through ``pg_dump --format=custom`` (one consistent snapshot, taken while
the app runs) and ``pg_restore --single-transaction --exit-on-error`` (all or nothing);
SQLite through its online backup API. A restore refuses a database that already holds
tables, checks that the schema is at the migrations' head, and then runs
``flask --app backend check-ledger`` on it: a restore is only done when every community's
ledger reconciles. ``docs/operations.md`` says when to run which.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect, make_url
from sqlalchemy.engine import URL

from scripts.services import find_pg_bindir

ROOT = Path(__file__).resolve().parent.parent


class BackupError(RuntimeError):
    pass


def database_url() -> URL:
    url = os.environ.get("LINLI_DATABASE_URL")
    if not url:
        raise BackupError("set LINLI_DATABASE_URL to the database to back up or restore into")
    return make_url(url)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password (which goes in PGPASSWORD, out of ``ps``)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    bare = url.set(drivername="postgresql", password=None)
    return bare.render_as_string(hide_password=False), env


def _sqlite_path(url: URL) -> Path:
    if not url.database:
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _copy_sqlite(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def dump(url: URL, target: Path) -> None:
    if url.get_backend_name() == "sqlite":
        _copy_sqlite(_sqlite_path(url), target)
        return
    conninfo, env = _libpq(url)
    subprocess.run([str(find_pg_bindir() / "pg_dump"), "--format=custom", "--no-owner",
                    "--file", str(target), conninfo], env=env, check=True)


def restore(url: URL, source: Path) -> None:
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    engine = create_engine(url)
    try:
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise BackupError(f"{url.render_as_string()} already holds {len(tables)} tables: "
                          "restore into an empty database")
    if url.get_backend_name() == "sqlite":
        _copy_sqlite(source, _sqlite_path(url))
        return
    conninfo, env = _libpq(url)
    subprocess.run([str(find_pg_bindir() / "pg_restore"), "--single-transaction",
                    "--exit-on-error", "--no-owner", "--no-privileges", "--dbname", conninfo,
                    str(source)], env=env, check=True)


def verify(url: URL) -> None:
    """The schema at the migrations' head, and every community's ledger reconciling."""
    env = {**os.environ, "LINLI_DATABASE_URL": url.render_as_string(hide_password=False)}
    flask = [sys.executable, "-m", "flask", "--app", "backend"]
    current = subprocess.run([*flask, "db", "current"], env=env, cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
    if "(head)" not in current:
        raise BackupError(f"the restored schema is not at the migrations' head: {current!r}; "
                          "run `flask --app backend db upgrade` with this release")
    subprocess.run([*flask, "check-ledger"], env=env, cwd=ROOT, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.backup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("dump", "restore"))
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        url = database_url()
        if args.action == "dump":
            dump(url, args.file)
            print(f"backed up to {args.file} ({args.file.stat().st_size} bytes)")
        else:
            restore(url, args.file)
            verify(url)
            print(f"restored {args.file}; schema at head, every ledger check passed")
    except BackupError as error:
        print(f"backup: {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(f"backup: {error.cmd[0]} failed with exit code {error.returncode}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
