"""Throw-away PostgreSQL and Redis servers on loopback, for tests, benchmarks and dev runs.

Each server lives in its own temporary directory, listens on 127.0.0.1 on a free port and is
stopped by the PID of the process we spawned (never by name), so nothing else on the machine
is touched.  Usage::

    with PostgresServer() as pg, RedisServer() as rd:
        pg.create_database("linli_test")
        url = pg.url("linli_test")      # postgresql+psycopg://postgres@127.0.0.1:PORT/linli_test
        rurl = rd.url()                 # redis://127.0.0.1:PORT/0

The processes themselves are :class:`scripts.processes.Process` objects (the one supervisor of
scripts/ and tests/): servers still running when the interpreter exits are stopped by its
``atexit`` hook. ``atexit`` does not run on SIGTERM by default, so long-running scripts should
call :func:`install_signal_handlers` (the test runner does).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from scripts import processes
from scripts.processes import (
    Process,
    ProcessError,
    free_port,
    install_signal_handlers,
    stop_all,
    tail,
)

__all__ = [
    "NginxServer",
    "PostgresReplica",
    "PostgresServer",
    "RedisServer",
    "ServiceError",
    "find_pg_bindir",
    "free_port",
    "install_signal_handlers",
    "stop_all",
]

START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


class ServiceError(ProcessError):
    """A server could not be started (the message includes the tail of its log)."""


def _is_root() -> bool:
    return os.geteuid() == 0


class _Server:
    """Common lifecycle: temp dir, one supervised process, registry, context manager."""

    name = "server"

    def __init__(self, port: int | None = None) -> None:
        self.port: int | None = port
        self._fixed_port = port is not None
        self.tmpdir: Path | None = None
        self.process: Process | None = None
        self._lock = threading.RLock()

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        """The server's ``Popen`` (the supervisor's), while one was started."""
        return self.process.proc if self.process is not None else None

    @proc.setter
    def proc(self, value: None) -> None:
        # Only forgetting is allowed: a server's process is started through _launch().
        if value is not None:
            raise TypeError("start the server's process with _launch()")
        self.process = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.running

    @property
    def log_path(self) -> Path | None:
        return self.tmpdir / f"{self.name}.log" if self.tmpdir else None

    def start(self) -> Self:
        raise NotImplementedError

    def _stop_signals(self) -> Sequence[tuple[int, float]]:
        return ((signal.SIGTERM, STOP_TIMEOUT),)

    def _launch(self, command: Callable[[], list[str]], ready: Callable[[], bool],
                in_use: str, *, auto_port: bool, env: dict[str, str] | None = None,
                popen: dict[str, Any] | None = None) -> None:
        """Start ``command()`` under the supervisor and wait for ``ready``; with an automatic
        port, try another one when the log says the port was taken meanwhile (``in_use``:
        another process may grab it between free_port() and bind())."""
        assert self.log_path is not None
        for attempt in range(3):
            if self.port is None or (auto_port and attempt > 0):
                self.port = free_port()
            self.process = Process(
                self.name, command(), env=env, cwd=self.tmpdir or processes.ROOT,
                log_path=self.log_path, ready=lambda _process: ready(),
                start_timeout_s=START_TIMEOUT, stop_steps=self._stop_signals(), popen=popen)
            try:
                self.process.start()
                return
            except ProcessError as error:
                self.process = None
                if auto_port and "before it was ready" in str(error) \
                        and in_use in tail(self.log_path):
                    continue
                break
        raise self._fail(f"did not become ready within {START_TIMEOUT:.0f}s")

    def _stop_process(self) -> None:
        with self._lock:
            if self.process is not None:
                self.process.stop(self._stop_signals())
                self.process = None
            processes.unregister(self)

    def _remove_tmpdir(self) -> None:
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def stop(self) -> None:
        """Stop the server by PID and delete its temporary directory. Idempotent."""
        with self._lock:
            self._stop_process()
            self._remove_tmpdir()
            if not self._fixed_port:
                self.port = None

    def _register(self) -> None:
        processes.register(self)

    def _fail(self, message: str) -> ServiceError:
        err = ServiceError(f"{self.name}: {message}\n--- log tail ---\n{tail(self.log_path)}")
        self.stop()
        return err

    def __enter__(self) -> Self:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} port={self.port} pid={self.pid}>"


# --- PostgreSQL --------------------------------------------------------------------------------


def _version_key(path: str) -> tuple[int, ...]:
    match = re.search(r"/postgresql/([\d.]+)/bin", path)
    return tuple(int(p) for p in match.group(1).split(".") if p) if match else (0,)


def find_pg_bindir() -> Path:
    """Directory holding initdb/postgres: ``pg_config --bindir``, else the newest Debian one."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
            # libpq-dev's pg_config may answer /usr/bin, which has no initdb on Debian.
            if out and (Path(out) / "initdb").is_file():
                return Path(out)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ServiceError("PostgreSQL server binaries (initdb) not found; install `postgresql`")


def _postgres_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceError(
            "running as root needs the `postgres` OS user (created by Debian's `postgresql`)"
        ) from None


def _utf8_locale() -> str:
    """C.UTF-8 when the system has it (Debian always does), otherwise plain C."""
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(
            ["locale", "-a"], capture_output=True, text=True, check=True
        ).stdout.lower()
        if "c.utf8" in out.split() or "c.utf-8" in out.split():
            return "C.UTF-8"
    return "C"


class PostgresServer(_Server):
    """A private PostgreSQL cluster (superuser ``postgres``, trust auth) on 127.0.0.1.

    ``settings`` adds/overrides ``-c name=value`` server options.
    """

    name = "postgres"
    superuser = "postgres"

    def __init__(self, port: int | None = None, settings: dict[str, str] | None = None) -> None:
        super().__init__(port)
        self.settings: dict[str, str] = {
            "listen_addresses": "127.0.0.1",
            # Durability is pointless for a throw-away cluster; these make tests much faster.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "400",
            # Containers often have a tiny /dev/shm; keep dynamic shared memory in the data dir.
            "dynamic_shared_memory_type": "mmap",
        }
        self.settings.update(settings or {})
        self.bindir: Path | None = None
        self._keep_port = False  # a pause() keeps it for resume()

    @property
    def datadir(self) -> Path | None:
        return self.tmpdir / "data" if self.tmpdir else None

    def _popen_user_kwargs(self) -> dict[str, Any]:
        # PostgreSQL refuses to run as root.  We switch user in Popen itself rather than through
        # `runuser`, so that the PID we hold is the postmaster's and signals reach it directly.
        if not _is_root():
            return {}
        pw = _postgres_user()
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        if _is_root():
            env["HOME"] = str(self.tmpdir)
        return env

    def start(self) -> Self:
        """initdb a fresh cluster in a temp dir, start it and wait until it accepts clients."""
        with self._lock:
            if self.running:
                return self
            self.bindir = find_pg_bindir()
            # Under /tmp with 0755 so the postgres user can traverse to its data directory.
            self.tmpdir = Path(tempfile.mkdtemp(prefix="linli-pg-", dir="/tmp"))
            os.chmod(self.tmpdir, 0o755)
            if _is_root():
                pw = _postgres_user()
                os.chown(self.tmpdir, pw.pw_uid, pw.pw_gid)
            assert self.datadir is not None and self.log_path is not None
            self._register()
            try:
                self._initdb()
                self._spawn_and_wait()
            except BaseException:
                self.stop()
                raise
            return self

    def _initdb(self) -> None:
        assert self.bindir is not None and self.datadir is not None and self.log_path
        cmd = [
            str(self.bindir / "initdb"),
            "-D", str(self.datadir),
            "-A", "trust",
            "-U", self.superuser,
            "--encoding=UTF8",
            f"--locale={_utf8_locale()}",
            "--no-sync",
        ]  # fmt: skip
        try:
            processes.run(cmd, name="initdb", env=self._env(), cwd=self.tmpdir or "/tmp",
                          timeout_s=START_TIMEOUT * 4, log_path=self.log_path,
                          popen=self._popen_user_kwargs())
        except ProcessError as error:
            raise self._fail(str(error).splitlines()[0]) from None

    def _command(self) -> list[str]:
        assert self.bindir is not None and self.datadir is not None
        cmd = [
            str(self.bindir / "postgres"),
            "-D", str(self.datadir),
            "-p", str(self.port),
            "-k", str(self.tmpdir),
        ]  # fmt: skip
        for key, value in self.settings.items():
            cmd += ["-c", f"{key}={value}"]
        return cmd

    def _spawn_and_wait(self) -> None:
        """Start the postmaster on the data directory and wait until it accepts clients."""
        # A port kept on purpose (a restart that clients must find again) is never changed.
        keep = self._fixed_port or self._keep_port
        self._launch(self._command, self._accepts_clients, "already in use",
                     auto_port=not keep, env=self._env(), popen=self._popen_user_kwargs())

    def _accepts_clients(self) -> bool:
        import psycopg  # lazy: importing this module must not require psycopg

        try:
            with psycopg.connect(self._conninfo("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def _stop_signals(self) -> Sequence[tuple[int, float]]:
        # SIGTERM is "smart" shutdown, which waits for every client to disconnect (a leaked pool
        # would hang us); SIGINT is "fast" shutdown, SIGQUIT "immediate", then SIGKILL.
        return ((signal.SIGINT, STOP_TIMEOUT), (signal.SIGQUIT, 5.0))

    def pause(self) -> None:
        """Stop the postmaster by PID (fast shutdown), keeping its data directory and port:
        the database going away under its clients; :meth:`resume` brings it back."""
        with self._lock:
            self._stop_process()
            self._keep_port = self.port is not None

    def resume(self) -> Self:
        """Start the postmaster again on the kept data directory and port."""
        with self._lock:
            if not self.running:
                self._register()
                self._spawn_and_wait()
            return self

    def _conninfo(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.superuser} dbname={dbname}"

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL for ``dbname`` on this server."""
        if self.port is None:
            raise ServiceError("postgres: not started")
        return f"postgresql+psycopg://{self.superuser}@127.0.0.1:{self.port}/{dbname}"

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL of the maintenance database, for creating/dropping databases."""
        return self.url("postgres")

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> Any:
        """A psycopg connection to ``dbname`` (autocommit unless overridden)."""
        import psycopg

        kwargs.setdefault("autocommit", True)
        return psycopg.connect(self._conninfo(dbname), **kwargs)

    def create_database(self, name: str, *, drop_existing: bool = True) -> str:
        """Create database ``name`` (dropping an existing one first); return its URL."""
        from psycopg import sql

        if drop_existing:
            self.drop_database(name)
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting its clients."""
        from psycopg import sql

        # WITH (FORCE) (PostgreSQL 13+) terminates sessions a test may have leaked.
        query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        with self.connect() as conn:
            conn.execute(query.format(sql.Identifier(name)))


class PostgresReplica(PostgresServer):
    """A streaming hot standby of a running :class:`PostgresServer`, on its own port.

    Made with ``pg_basebackup -R`` through a replication slot (so the primary keeps the WAL
    the standby has not replayed yet); it runs with the primary's settings plus
    ``hot_standby_feedback`` (a long report on the standby is not cancelled by the vacuum
    of rows it still reads). :meth:`pause` stops it keeping its data and port, and
    :meth:`start` brings it back, caught up through the slot.
    """

    name = "postgres-replica"

    def __init__(self, primary: PostgresServer, port: int | None = None,
                 settings: dict[str, str] | None = None, slot: str | None = None) -> None:
        super().__init__(port, {**primary.settings, "hot_standby": "on",
                                "hot_standby_feedback": "on", **(settings or {})})
        self.primary = primary
        self.slot = slot or f"linli_replica_{os.getpid()}_{id(self) % 100000}"
        self._keep_port = False

    def start(self) -> Self:
        """Base-backup the primary into a temp dir and start the standby on it; after
        :meth:`pause`, start the same standby again on the same port."""
        with self._lock:
            if self.running:
                return self
            if self.tmpdir is not None and self.datadir is not None and self.datadir.exists():
                self._register()
                self._spawn_and_wait()
                self._keep_port = False
                return self
            if not self.primary.running:
                raise ServiceError("postgres-replica: the primary is not running")
            self.bindir = self.primary.bindir or find_pg_bindir()
            self.tmpdir = Path(tempfile.mkdtemp(prefix="linli-pg-replica-", dir="/tmp"))
            os.chmod(self.tmpdir, 0o755)
            if _is_root():
                pw = _postgres_user()
                os.chown(self.tmpdir, pw.pw_uid, pw.pw_gid)
            self._register()
            try:
                self._prepare_primary()
                self._base_backup()
                self._spawn_and_wait()
            except BaseException:
                self.stop()
                raise
            return self

    def _prepare_primary(self) -> None:
        """The primary must ship WAL (wal_level, max_wal_senders) and let us connect for
        replication (a pg_hba line; initdb writes one for 127.0.0.1, added if missing)."""
        with self.primary.connect() as conn:
            wal_level = conn.execute("SHOW wal_level").fetchone()[0]
            senders = int(conn.execute("SHOW max_wal_senders").fetchone()[0])
            if wal_level not in ("replica", "logical") or senders < 1:
                raise ServiceError(f"postgres-replica: the primary has wal_level={wal_level}"
                                   f" and max_wal_senders={senders}; start it with "
                                   "settings={'wal_level': 'replica', 'max_wal_senders': '5'}")
            hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
            line = "host replication all 127.0.0.1/32 trust"
            lines = [" ".join(raw.split()) for raw in hba.read_text().splitlines()]
            if line not in lines:
                with hba.open("a") as handle:
                    handle.write(f"\n{line}\n")
                conn.execute("SELECT pg_reload_conf()")

    def _base_backup(self) -> None:
        assert self.bindir is not None and self.datadir is not None and self.log_path
        cmd = [
            str(self.bindir / "pg_basebackup"),
            "-d", self.primary._conninfo("postgres"),
            "-D", str(self.datadir),
            "-R",  # standby.signal and primary_conninfo: start as a standby of the primary
            "-C", "-S", self.slot,  # create the slot and stream through it
            "-X", "stream",
            "--checkpoint=fast",  # do not wait for the primary's next scheduled checkpoint
            "--no-sync",
        ]  # fmt: skip
        try:
            processes.run(cmd, name="pg_basebackup", env=self._env(),
                          cwd=self.tmpdir or "/tmp", timeout_s=START_TIMEOUT * 4,
                          log_path=self.log_path, popen=self._popen_user_kwargs())
        except ProcessError as error:
            raise self._fail(str(error).splitlines()[0]) from None

    def wait_caught_up(self, timeout_s: float = 30.0) -> None:
        """Wait until the standby has replayed everything the primary wrote so far."""
        with self.primary.connect() as conn:
            target = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout_s
        with self.connect() as conn:
            while True:
                behind = conn.execute("SELECT pg_wal_lsn_diff(%s, pg_last_wal_replay_lsn()) > 0",
                                      (target,)).fetchone()[0]
                if not behind:
                    return
                if time.monotonic() > deadline:
                    raise ServiceError(f"postgres-replica: not caught up with {target} "
                                       f"after {timeout_s:g}s")
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the standby by PID, delete its data and drop its slot on the primary."""
        with self._lock:
            had_data = self.tmpdir is not None
            self._keep_port = False
            super().stop()
            if had_data and self.primary.running:
                self._drop_slot()

    def _drop_slot(self) -> None:
        import psycopg

        # The primary's walsender lets go of the slot a moment after the standby stops.
        deadline = time.monotonic() + STOP_TIMEOUT
        with self.primary.connect() as conn:
            while True:
                try:
                    conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM "
                                 "pg_replication_slots WHERE slot_name = %s", (self.slot,))
                    return
                except psycopg.errors.ObjectInUse:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)


# --- Redis -------------------------------------------------------------------------------------


def _redis_command(port: int, *args: str, timeout: float = 2.0) -> bytes:
    """Send one RESP command and return the first reply line (no redis-py needed)."""
    payload = f"*{len(args)}\r\n".encode()
    for arg in args:
        data = arg.encode()
        payload += b"$%d\r\n%s\r\n" % (len(data), data)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply.strip()


class RedisServer(_Server):
    """A private, non-persistent redis-server on 127.0.0.1.

    To simulate an outage and recovery on the *same* port (clients keep their URL), use
    :meth:`stop_keep_port` followed by :meth:`start`, or simply :meth:`restart`.  Data is not
    persisted, so the restarted server is empty.
    """

    name = "redis"

    def __init__(self, port: int | None = None, extra_args: Sequence[str] = ()) -> None:
        super().__init__(port)
        self.extra_args = list(extra_args)
        self._keep_port = False

    def start(self) -> Self:
        """Start redis-server (on the previous port after :meth:`stop_keep_port`)."""
        with self._lock:
            if self.running:
                return self
            binary = shutil.which("redis-server")
            if binary is None:
                raise ServiceError("redis-server not found; install `redis-server`")
            self.tmpdir = Path(tempfile.mkdtemp(prefix="linli-redis-", dir="/tmp"))
            assert self.log_path is not None
            self._register()
            auto_port = not (self._fixed_port or self._keep_port)
            try:
                self._launch(lambda: self._command(binary), self.ping, "in use",
                             auto_port=auto_port)
            except BaseException:
                self.stop()
                raise
            self._keep_port = False
            return self

    def _command(self, binary: str) -> list[str]:
        return [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.tmpdir),
            *self.extra_args,
        ]  # fmt: skip

    def stop(self) -> None:
        """Stop by PID, delete the temp dir and forget the port (unless it was given)."""
        with self._lock:
            self._keep_port = False
            super().stop()

    def stop_keep_port(self) -> None:
        """Stop by PID but remember the port, so that the next :meth:`start` reuses it."""
        with self._lock:
            self._stop_process()
            self._remove_tmpdir()
            self._keep_port = self.port is not None

    def restart(self) -> Self:
        """Stop and start again on the same port (the data set is lost)."""
        with self._lock:
            self.stop_keep_port()
            return self.start()

    def url(self, db: int = 0) -> str:
        """redis:// URL of logical database ``db``."""
        if self.port is None:
            raise ServiceError("redis: not started")
        return f"redis://127.0.0.1:{self.port}/{db}"

    def ping(self) -> bool:
        """True when the server answers PING."""
        if self.port is None:
            return False
        try:
            return _redis_command(self.port, "PING") == b"+PONG"
        except OSError:
            return False

    def flushall(self) -> None:
        """Delete every key in every logical database."""
        if self.port is None:
            raise ServiceError("redis: not started")
        reply = _redis_command(self.port, "FLUSHALL")
        if reply != b"+OK":
            raise ServiceError(f"redis: FLUSHALL answered {reply!r}")


# --- nginx -------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\$\{(LINLI_[A-Z0-9_]+)\}")


def render_template(text: str, values: dict[str, str]) -> str:
    """Fill in the ``${LINLI_*}`` placeholders of a config template (``deploy/nginx.conf``);
    nginx's own ``$variables`` are left alone. A placeholder without a value raises."""
    missing = sorted({name for name in _PLACEHOLDER.findall(text) if name not in values})
    if missing:
        raise ServiceError(f"no value for {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


class NginxServer(_Server):
    """Debian's nginx in the foreground on 127.0.0.1, from a config template.

    ``values`` fill the template's ``${LINLI_*}`` placeholders; ``LINLI_PROXY_LISTEN`` is
    this server's address. Relative paths in the config (pid, logs, temp files) are under
    its own temporary prefix directory. :meth:`reload` re-reads a changed ``values``.
    """

    name = "nginx"

    def __init__(self, template: Path, values: dict[str, str], port: int | None = None) -> None:
        super().__init__(port)
        self.template = template
        self.values = dict(values)

    @property
    def config_path(self) -> Path | None:
        return self.tmpdir / "nginx.conf" if self.tmpdir else None

    @property
    def access_log(self) -> Path | None:
        return self.tmpdir / "logs" / "access.log" if self.tmpdir else None

    def start(self) -> Self:
        with self._lock:
            if self.running:
                return self
            binary = shutil.which("nginx") or "/usr/sbin/nginx"
            if not Path(binary).is_file():
                raise ServiceError("nginx not found; install `nginx`")
            self.tmpdir = Path(tempfile.mkdtemp(prefix="linli-nginx-", dir="/tmp"))
            os.chmod(self.tmpdir, 0o755)  # its workers (www-data under root) read below it
            for sub in ("logs", "temp"):
                (self.tmpdir / sub).mkdir()
            self._register()
            try:
                self._launch(lambda: self._command(binary), self._answers, "Address already",
                             auto_port=not self._fixed_port)
            except BaseException:
                self.stop()
                raise
            return self

    def _write_config(self) -> None:
        assert self.config_path is not None
        values = {**self.values, "LINLI_PROXY_LISTEN": f"127.0.0.1:{self.port}"}
        self.config_path.write_text(render_template(self.template.read_text(), values))

    def _command(self, binary: str) -> list[str]:
        self._write_config()  # on every attempt: the port may have changed
        return [binary, "-p", f"{self.tmpdir}/", "-c", str(self.config_path), "-e", "stderr",
                "-g", "daemon off;"]

    def _answers(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port),
                                                                    timeout=1):
            return True
        return False

    def _stop_signals(self) -> Sequence[tuple[int, float]]:
        # SIGQUIT: graceful, the requests in flight are answered; SIGTERM: fast.
        return ((signal.SIGQUIT, 10.0), (signal.SIGTERM, 5.0))

    def reload(self) -> None:
        """Write the config from the current ``values`` and have nginx re-read it (SIGHUP):
        new workers take new connections, old ones finish their requests."""
        with self._lock:
            if self.process is None or not self.running:
                raise ServiceError("nginx: not running")
            self._write_config()
            os.kill(self.process.pid, signal.SIGHUP)

    def url(self) -> str:
        if self.port is None:
            raise ServiceError("nginx: not started")
        return f"http://127.0.0.1:{self.port}"


if __name__ == "__main__":
    # Handy for manual use: `python -m scripts.services` prints URLs until Ctrl-C.
    install_signal_handlers()
    with PostgresServer() as _pg, RedisServer() as _rd:
        print(f"LINLI_TEST_PG_ADMIN_URL={_pg.admin_url}")
        print(f"LINLI_TEST_REDIS_URL={_rd.url()}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    sys.exit(0)
