"""Full test run: ruff, then pytest on SQLite and on a real PostgreSQL, with a real Redis.

Usage: ``python -m scripts.run_tests [pytest args...]`` (normally via ``scripts/test``, which also
installs the system and Python dependencies).  Extra arguments go to both pytest runs; they come
after ours, so e.g. a ``-m`` given here replaces the SQLite run's ``-m "not postgres_only"``.

Environment seen by the pytest processes:

* ``LINLI_TEST_DATABASE``       ``sqlite`` for the first run, ``postgresql`` for the second
* ``LINLI_TEST_DATABASE_URL``   (PostgreSQL run only) URL of a freshly created ``linli_test``
* ``LINLI_TEST_PG_ADMIN_URL``   URL of the ``postgres`` maintenance DB, to create more databases
* ``LINLI_TEST_REDIS_URL``      ``redis://127.0.0.1:PORT/0`` (flushed between the two runs)
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from scripts.processes import Process
from scripts.services import PostgresServer, RedisServer, install_signal_handlers

ROOT = Path(__file__).resolve().parent.parent
PG_TEST_DB = "linli_test"


def banner(text: str) -> None:
    line = "=" * 78
    print(f"\n{line}\n== {text}\n{line}", flush=True)


def run(cmd: Sequence[str], env: dict[str, str] | None = None) -> int:
    """Run ``cmd`` in the repo root; if we are interrupted, stop it gently before re-raising."""
    # In the terminal's session, so that Ctrl-C reaches pytest itself as well.
    argv = list(cmd)
    name = argv[2] if argv[1:2] == ["-m"] else Path(argv[0]).name
    proc = Process(name, argv, env=env, new_session=False).start()
    try:
        return proc.wait()
    except BaseException as exc:
        # On Ctrl-C the terminal already sent SIGINT to pytest too; otherwise (SIGTERM) ask
        # it to stop the same way, so it prints its summary and runs its fixture teardown.
        proc.stop([(None if isinstance(exc, KeyboardInterrupt) else signal.SIGINT, 15.0)])
        raise


def main(argv: Sequence[str]) -> int:
    install_signal_handlers()
    os.chdir(ROOT)
    pytest_args = list(argv)

    banner("ruff check .")
    rc = run([sys.executable, "-m", "ruff", "check", "."])
    if rc != 0:
        print(f"\nruff check failed (exit code {rc}); not running the tests.", flush=True)
        return rc

    # The layers contract of pyproject.toml ([tool.importlinter], docs/architecture.md).
    banner("lint-imports")
    rc = run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command;"
              " sys.exit(lint_imports_command())"])
    if rc != 0:
        print(f"\nlint-imports failed (exit code {rc}); not running the tests.", flush=True)
        return rc

    results: list[tuple[str, int]] = []
    pg = PostgresServer()
    redis = RedisServer()
    try:
        banner("starting PostgreSQL and Redis")
        started = time.monotonic()
        pg.start()
        redis.start()
        print(
            f"PostgreSQL pid {pg.pid} on {pg.admin_url} (data {pg.tmpdir})\n"
            f"Redis      pid {redis.pid} on {redis.url()}\n"
            f"ready in {time.monotonic() - started:.1f}s",
            flush=True,
        )

        base_env = dict(os.environ)
        base_env.update(
            LINLI_TEST_REDIS_URL=redis.url(0),
            LINLI_TEST_PG_ADMIN_URL=pg.admin_url,
        )
        pytest = [sys.executable, "-m", "pytest"]

        banner("pytest on SQLite (-m 'not postgres_only')")
        env = dict(base_env, LINLI_TEST_DATABASE="sqlite")
        env.pop("LINLI_TEST_DATABASE_URL", None)
        results.append(("SQLite", run([*pytest, "-m", "not postgres_only", *pytest_args], env)))

        # Each run starts from empty stores, whatever the previous one left behind.
        redis.flushall()
        db_url = pg.create_database(PG_TEST_DB)

        banner(f"pytest on PostgreSQL (all tests) — {db_url}")
        env = dict(base_env, LINLI_TEST_DATABASE="postgresql", LINLI_TEST_DATABASE_URL=db_url)
        results.append(("PostgreSQL", run([*pytest, *pytest_args], env)))
    finally:
        # Stopped by PID; runs on failures, Ctrl-C and SIGTERM (see install_signal_handlers).
        redis.stop()
        pg.stop()

    banner("summary")
    failed = False
    for name, code in results:
        # Exit code 5 ("no tests collected") is a failure too: an empty run proves nothing.
        status = "passed" if code == 0 else f"FAILED (pytest exit code {code})"
        failed = failed or code != 0
        print(f"{name:<11} {status}")
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
