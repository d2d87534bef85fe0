"""A district on one machine (issue #19, SPEC §1): nginx in front of several app nodes (each
its own gunicorn), several RQ workers, a PostgreSQL primary with a streaming replica made by
``pg_basebackup``, Redis, and the mock WeChat platform; every piece a real server on
loopback, configured from ``deploy/`` (``nginx.conf``, ``linli.env``, ``gunicorn.conf.py``).

    scripts/district up [--nodes 2] [--workers 2] [--port 8080] [--no-demo]
    scripts/district status      # each piece, its PID, whether it answers; exit 1 if one does not
    scripts/district down        # stop a running `up`, every piece by its PID, in order

``up`` runs in the foreground until Ctrl-C, SIGTERM or ``down``, and does what a process
manager would: an app node or worker that dies is started again. What it started is in
``instance/district/state.json`` (for ``status`` and ``down``), its logs beside it; the
databases live only while it runs. ``scripts/bench/district.py`` drives the same
:class:`District` in-process to load it and inject faults.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from dotenv import dotenv_values

from scripts import processes
from scripts.processes import Process, ProcessError, free_port, http_ok, is_alive, start_time
from scripts.services import (
    NginxServer,
    PostgresReplica,
    PostgresServer,
    RedisServer,
    install_signal_handlers,
)

ROOT = processes.ROOT
DEPLOY = ROOT / "deploy"
DEFAULT_WORKDIR = ROOT / "instance" / "district"
DATABASE = "linli"
FLASK = [sys.executable, "-m", "flask", "--app", "backend"]
# What a district's PostgreSQL keeps on disk is the residents' points: unlike the test
# servers', its commits are durable (fsync, synchronous commit, full pages).
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
REPLICATION = {"wal_level": "replica", "max_wal_senders": "5", "max_replication_slots": "5"}


@dataclass
class Layout:
    """How big the district is and where it keeps its files."""

    nodes: int = 2
    node_workers: int = 2
    workers: int = 2
    port: int = 8080  # nginx; 0 picks a free one
    workdir: Path = DEFAULT_WORKDIR
    demo: bool = True
    settings: dict[str, str] = field(default_factory=dict)  # LINLI_* overrides
    durable: bool = True


class District:
    """Every piece of a district, started in dependency order and stopped in reverse;
    :meth:`revive` starts again an app node or worker that is not running."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.logs = layout.workdir / "logs"
        pg_settings = {**REPLICATION, **(DURABLE if layout.durable else {})}
        self.primary = PostgresServer(settings=pg_settings)
        self.replica = PostgresReplica(self.primary)
        self.redis = RedisServer()
        self.mock: Process | None = None
        self.nodes: list[Process] = []
        self.workers: list[Process] = []
        self.nginx: NginxServer | None = None
        self.env: dict[str, str] = {}
        self._stopping = False
        self._lock = threading.RLock()

    # --- starting and stopping -----------------------------------------------------------

    def up(self) -> District:
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            self.primary.start()
            self.primary.create_database(DATABASE)
            # Before anything runs the app: with no Redis of its own, seeding would enqueue
            # into whatever Redis answers on the default port.
            self.redis.start()
            appid, secret = "wx_district", secrets.token_urlsafe(16)
            mock_port = free_port()
            self.env = self._environment(appid, secret, mock_port)
            self.flask("db", "upgrade")
            if self.layout.demo:
                self.flask("seed-demo")
            self.replica.start()
            self.env["LINLI_DATABASE_REPLICA_URL"] = self.replica.url(DATABASE)
            self.mock = Process("mock WeChat", [
                sys.executable, "-m", "miniprogram_mock.wx_server", "--host", "127.0.0.1",
                "--port", str(mock_port), "--appid", appid, "--secret", secret],
                log_path=self.logs / "mock.log",
                ready=http_ok(f"http://127.0.0.1:{mock_port}/_mock/stats")).start()
            self.workers = [self._worker(i) for i in range(self.layout.workers)]
            for worker in self.workers:
                worker.start()
            self.nodes = [self._node(i, free_port()) for i in range(self.layout.nodes)]
            for node in self.nodes:
                node.start()
            self.nginx = NginxServer(DEPLOY / "nginx.conf", {
                "LINLI_APP_SERVERS": "\n        ".join(
                    f"server {node_address(node)} max_fails=1 fail_timeout=5s;"
                    for node in self.nodes)}, port=self.layout.port or None).start()
        except BaseException:
            self.down()
            raise
        return self

    def down(self) -> None:
        """Stop every piece by its PID: the front first, the databases last."""
        with self._lock:
            self._stopping = True
            for piece in [self.nginx, *self.nodes, *self.workers, self.mock]:
                if piece is not None:
                    piece.stop()
            for server in (self.redis, self.replica, self.primary):
                server.stop()

    def _environment(self, appid: str, secret: str, mock_port: int) -> dict[str, str]:
        """deploy/linli.env, with this machine's servers and fresh secrets in place of the
        hosts and secrets an operator fills in."""
        deployed = {k: v for k, v in dotenv_values(DEPLOY / "linli.env").items()
                    if v not in (None, "")}
        signing_seed = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LINLI_", "PG"))}
        env.update(deployed)
        env.update({
            "LINLI_DATABASE_URL": self.primary.url(DATABASE),
            "LINLI_REDIS_URL": self.redis.url(0),
            "LINLI_WECHAT_API_BASE": f"http://127.0.0.1:{mock_port}",
            "LINLI_WECHAT_APPID": appid,
            "LINLI_WECHAT_SECRET": secret,
            "LINLI_SECRET_KEY": secrets.token_urlsafe(32),
            "LINLI_CHECKIN_SIGNING_KEY": signing_seed,
            # Not served through the proxy: the demo's bootstrap admin, as in scripts/dev.
            "LINLI_BOOTSTRAP_ADMIN_OPENIDS": "demo-admin",
            "LINLI_MOCK_PAGES": "off",
        })
        env.pop("LINLI_DATABASE_REPLICA_URL", None)  # until the replica is up
        env.update({f"LINLI_{k}": v for k, v in self.layout.settings.items()})
        return env

    def _node(self, index: int, port: int) -> Process:
        metrics = self.layout.workdir / "metrics" / f"node-{index + 1}"
        metrics.mkdir(parents=True, exist_ok=True)
        return Process(f"node-{index + 1}", [
            sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py"),
            "-w", str(self.layout.node_workers), "-b", f"127.0.0.1:{port}"],
            env={**self.env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)},
            log_path=self.logs / f"node-{index + 1}.log",
            ready=http_ok(f"http://127.0.0.1:{port}/healthz"), start_timeout_s=60)

    def _worker(self, index: int) -> Process:
        return Process(f"worker-{index + 1}", [*FLASK, "worker"], env=self.env,
                       log_path=self.logs / f"worker-{index + 1}.log",
                       stop_steps=((signal.SIGTERM, 15.0),))

    def flask(self, *command: str) -> str:
        """A one-off ``flask`` command with the district's environment (migrations, seeding)."""
        return processes.run([*FLASK, *command], name=f"flask {' '.join(command)}",
                             env=self.env, log_path=self.logs / "flask.log", timeout_s=300)

    # --- supervising -----------------------------------------------------------------------

    def revive(self) -> list[str]:
        """Start again every app node and worker that died; their names."""
        started = []
        with self._lock:
            for piece in [*self.nodes, *self.workers]:
                if self._stopping or piece.running:
                    continue
                with contextlib.suppress(ProcessError):
                    piece.start()
                    started.append(piece.name)
        return started

    def supervise(self, stop: threading.Event, interval_s: float = 0.5,
                  on_revive: Callable[[list[str]], None] | None = None) -> None:
        """:meth:`revive` every ``interval_s`` until ``stop`` is set (a process manager's
        restart policy: always, at once); ``on_revive`` hears which pieces came back."""
        while not stop.wait(interval_s):
            revived = self.revive()
            for name in revived:
                print(f"{time.strftime('%H:%M:%S')} {name} had stopped: started again",
                      flush=True)
            if revived and on_revive is not None:
                on_revive(revived)

    # --- describing ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.nginx is not None
        return self.nginx.url()

    @property
    def mock_url(self) -> str:
        return self.env["LINLI_WECHAT_API_BASE"]

    def state(self) -> dict[str, Any]:
        """What ``status`` and ``down`` need: every piece's PID (with its start time, so a
        reused PID is never mistaken for it), address, probe and log."""
        assert self.nginx is not None and self.mock is not None

        def entry(name: str, process: Any, address: str, probe: str) -> dict[str, Any]:
            return {"name": name, "pid": process.pid, "started": start_time(process.pid),
                    "address": address, "probe": probe, "log": str(process.log_path)}

        def server(name: str, process: Any, url: str) -> dict[str, Any]:
            return entry(name, process, url, f"tcp://127.0.0.1:{process.port}")

        nodes = [(n, f"http://{node_address(n)}") for n in self.nodes]
        return {"supervisor": {"pid": os.getpid(), "started": start_time(os.getpid())},
                "url": self.url, "pieces": [
                    entry("nginx", self.nginx, self.url, f"{self.url}/healthz"),
                    *(entry(n.name, n, url, f"{url}/healthz") for n, url in nodes),
                    *(entry(w.name, w, "", "") for w in self.workers),
                    entry("mock WeChat", self.mock, self.mock_url, f"{self.mock_url}/_mock/stats"),
                    server("redis", self.redis, self.redis.url(0)),
                    server("postgres primary", self.primary, self.primary.url(DATABASE)),
                    server("postgres replica", self.replica, self.replica.url(DATABASE)),
                ]}


def node_address(node: Process) -> str:
    """The ``host:port`` an app node's gunicorn binds (its ``-b``)."""
    return node.argv[node.argv.index("-b") + 1]


# --- the command ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/district", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the district and keep it running")
    up.add_argument("--nodes", type=int, default=2, help="app nodes behind nginx")
    up.add_argument("--node-workers", type=int, default=2, help="gunicorn workers per node")
    up.add_argument("--workers", type=int, default=2, help="RQ workers")
    up.add_argument("--port", type=int, default=8080, help="nginx's port (0: a free one)")
    up.add_argument("--no-demo", dest="demo", action="store_false", help="no demo data")
    for command in (up, commands.add_parser("status", help="what is running, what answers"),
                    commands.add_parser("down", help="stop a running `up`")):
        command.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    args = parser.parse_args(argv)
    if args.command == "up":
        if min(args.nodes, args.node_workers, args.workers) < 1:
            parser.error("--nodes, --node-workers and --workers must be >= 1")
        return _up(Layout(nodes=args.nodes, node_workers=args.node_workers,
                          workers=args.workers, port=args.port, workdir=args.workdir,
                          demo=args.demo))
    return _status(args.workdir) if args.command == "status" else _down(args.workdir)


def _state_path(workdir: Path) -> Path:
    return workdir / "state.json"


def _write_state(district: District) -> None:
    path = _state_path(district.layout.workdir)
    path.with_suffix(".tmp").write_text(json.dumps(district.state(), indent=2))
    path.with_suffix(".tmp").replace(path)  # never half a file for `status` to read


def _read_state(workdir: Path) -> dict[str, Any] | None:
    try:
        state = json.loads(_state_path(workdir).read_text())
    except (OSError, ValueError):
        return None
    supervisor = state["supervisor"]
    return state if is_alive(supervisor["pid"], supervisor["started"]) else None


def _up(layout: Layout) -> int:
    if _read_state(layout.workdir) is not None:
        print(f"a district is already running from {layout.workdir} (scripts/district status)")
        return 1
    install_signal_handlers()
    district = District(layout)
    stop = threading.Event()
    try:
        print("starting PostgreSQL (primary and replica), Redis, the mock WeChat platform, "
              f"{layout.workers} RQ workers, {layout.nodes} app nodes and nginx ...",
              flush=True)
        district.up()
        _write_state(district)
        _print_summary(district)
        district.supervise(stop, on_revive=lambda _revived: _write_state(district))
        return 0
    except ProcessError as error:
        print(str(error), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop.set()
        district.down()
        with contextlib.suppress(FileNotFoundError):
            _state_path(layout.workdir).unlink()
        print("district stopped", flush=True)


def _print_summary(district: District) -> None:
    print(f"\nThe district is running (Ctrl-C or `scripts/district down` stops it)\n"
          f"  API            {district.url}/api/v1   (nginx, {len(district.nodes)} app nodes)\n"
          f"  mock WeChat    {district.mock_url}\n"
          f"  primary        {district.primary.url(DATABASE)}\n"
          f"  replica        {district.replica.url(DATABASE)}   (reports read here)\n"
          f"  Redis          {district.redis.url(0)}   ({len(district.workers)} RQ workers)\n"
          f"  logs           {district.logs}\n", flush=True)


def _status(workdir: Path) -> int:
    state = _read_state(workdir)
    if state is None:
        print(f"no district is running from {workdir}")
        return 1
    healthy = True
    for piece in state["pieces"]:
        alive = is_alive(piece["pid"], piece["started"])
        answers = alive and _answers(piece["probe"])
        healthy &= answers
        shown = "answering" if answers else "running, NOT answering" if alive else "STOPPED"
        print(f"  {piece['name']:<17} pid {piece['pid']:<8} {shown:<9} {piece['address']}")
    try:
        ready = requests.get(f"{state['url']}/readyz", timeout=5)
        body = ready.json()
        checks = " ".join(f"{name}={'ok' if check.get('ok') else 'FAILED'}"
                          for name, check in body.get("checks", {}).items())
        print(f"  /readyz through nginx: {body.get('status')} ({checks})")
        healthy &= ready.status_code == 200
    except (requests.RequestException, ValueError) as error:
        print(f"  /readyz through nginx: no answer ({type(error).__name__})")
        healthy = False
    return 0 if healthy else 1


def _answers(probe: str) -> bool:
    """An HTTP probe answers 200, a tcp:// one accepts a connection; no probe: running is
    enough (an RQ worker serves nothing)."""
    if not probe:
        return True
    if probe.startswith("tcp://"):
        host, port = probe.removeprefix("tcp://").rsplit(":", 1)
        return processes.port_open(int(port), host)()
    try:
        return requests.get(probe, timeout=3).status_code == 200
    except requests.RequestException:
        return False


def _down(workdir: Path) -> int:
    state = _read_state(workdir)
    if state is None:
        print(f"no district is running from {workdir}")
        return 0
    supervisor = state["supervisor"]
    os.kill(supervisor["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 120
    while is_alive(supervisor["pid"], supervisor["started"]):
        if time.monotonic() > deadline:
            print(f"the district (pid {supervisor['pid']}) did not stop within 120 s")
            return 1
        time.sleep(0.2)
    print("district stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
