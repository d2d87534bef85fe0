"""Run the product locally: mock WeChat platform, Redis, RQ worker, API with demo data.

``scripts/dev`` installs what is missing and runs this. ``--check`` starts everything,
logs in as the demo resident through the mock platform, lists activities, fetches the
mini-program pages at ``/mp/``, and stops:
the smoke test of the run command itself.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from pathlib import Path

import requests

from scripts import processes
from scripts.processes import Process, ProcessError, http_ok
from scripts.services import RedisServer, install_signal_handlers

ROOT = Path(__file__).resolve().parent.parent
FLASK = [sys.executable, "-m", "flask", "--app", "backend"]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    install_signal_handlers()
    env = _environment(args)
    api = f"http://127.0.0.1:{args.api_port}"
    mock = f"http://127.0.0.1:{args.mock_port}"
    started: list[Process] = []
    redis = None
    try:
        redis = _ensure_redis(env)
        # Output stays on the terminal; each process is its own session, so Ctrl-C reaches
        # only us and we stop them in order (API, worker, mock), each by its PID.
        started.append(Process("mock WeChat", [
            sys.executable, "-m", "miniprogram_mock.wx_server", "--host", "127.0.0.1",
            "--port", str(args.mock_port)], env=env, ready=http_ok(f"{mock}/_mock/stats")))
        started[-1].start()
        _flask(env, "db", "upgrade")
        demo = _flask(env, "seed-demo")
        started.append(Process("RQ worker", [*FLASK, "worker"], env=env).start())
        started.append(Process("API", [
            sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "-w", "2",
            "-b", f"127.0.0.1:{args.api_port}"], env=env, ready=http_ok(f"{api}/healthz")).start())
        _print_summary(args, env, demo)
        if args.check:
            return _smoke_test(api, mock)
        while all(p.running for p in started):
            time.sleep(0.5)
        stopped = next(p for p in started if not p.running)
        print(f"{stopped.name} stopped (exit code {stopped.returncode}); shutting down",
              file=sys.stderr)
        return 1
    except ProcessError as error:
        raise SystemExit(str(error)) from None
    except KeyboardInterrupt:
        return 0
    finally:
        for process in reversed(started):
            process.stop()
        if redis is not None:
            redis.stop()


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--mock-port", type=int, default=8001)
    parser.add_argument("--check", action="store_true", help="start, smoke-test, stop")
    return parser.parse_args(argv)


def _environment(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LINLI_ENV", "development")
    env.setdefault("LINLI_DATABASE_URL", "sqlite:///instance/linli.db")
    env.setdefault("LINLI_BOOTSTRAP_ADMIN_OPENIDS", "demo-admin")
    env["LINLI_WECHAT_API_BASE"] = env.get("LINLI_WECHAT_API_BASE") or \
        f"http://127.0.0.1:{args.mock_port}"
    env.setdefault("LINLI_REDIS_URL", "redis://127.0.0.1:6379/0")
    if args.check:
        # The smoke test waits for a notice to arrive; at night quiet hours would hold it.
        env.setdefault("LINLI_QUIET_HOURS", "off")
    return env


def _ensure_redis(env: dict[str, str]) -> RedisServer | None:
    """Use the Redis at LINLI_REDIS_URL if one answers; else start a private one."""
    import redis as redis_lib

    try:
        redis_lib.Redis.from_url(env["LINLI_REDIS_URL"], socket_timeout=1).ping()
        return None
    except redis_lib.RedisError:
        pass
    server = RedisServer(port=_free_or_none(6379)).start()
    env["LINLI_REDIS_URL"] = server.url(0)
    return server


def _free_or_none(port: int) -> int | None:
    with socket.socket() as probe:
        return port if probe.connect_ex(("127.0.0.1", port)) != 0 else None


def _flask(env: dict[str, str], *command: str) -> str:
    try:
        return processes.run([*FLASK, *command], name=f"flask {' '.join(command)}",
                             env=env).strip()
    except ProcessError as error:
        raise SystemExit(str(error)) from None


def _print_summary(args: argparse.Namespace, env: dict[str, str], demo: str) -> None:
    api = f"http://127.0.0.1:{args.api_port}"
    print(f"""
Linli is running
  API            {api}/api/v1      (docs: {api}/api/v1/docs, spec: {api}/api/v1/openapi.json)
  mini-program   {api}/mp/         (phone-sized pages; pick a demo person to log in)
  mock WeChat    {env['LINLI_WECHAT_API_BASE']}
  database       {env['LINLI_DATABASE_URL']}
  Redis          {env['LINLI_REDIS_URL']}   (RQ worker with scheduler: running)
{demo}
Press Ctrl-C to stop.
""", flush=True)


def _smoke_test(api: str, mock: str) -> int:
    """Log in, list activities, and sign up with a subscription: the worker must deliver."""
    code = requests.post(f"{mock}/_mock/login-code", json={"openid": "demo-resident"},
                         timeout=5).json()["code"]
    login = requests.post(f"{api}/api/v1/auth/wechat-login", json={"code": code}, timeout=5)
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    activities = requests.get(f"{api}/api/v1/activities", headers=headers, timeout=5).json()
    titles = [a["title"] for a in activities["items"]]
    print(f"check: logged in as demo-resident, {activities['total']} activities: {titles}")
    template = next(t["template_id"] for t in requests.get(
        f"{api}/api/v1/notifications/templates", headers=headers, timeout=5).json()["items"]
        if t["key"] == "signup_confirmed")
    requests.post(f"{mock}/_mock/subscribe", timeout=5,
                  json={"openid": "demo-resident", "template_id": template})
    requests.post(f"{api}/api/v1/me/subscriptions", json={"template_ids": [template]},
                  headers=headers, timeout=5)
    target = activities["items"][-1]["id"]
    signup = requests.post(f"{api}/api/v1/activities/{target}/signups", headers=headers,
                           timeout=5)
    if signup.status_code == 201 and not _delivered(mock, "demo-resident"):
        print("check: the sign-up notice did not reach the mock WeChat platform")
        return 1
    print(f"check: signed up ({signup.json()['status']}), notice delivered through the worker")
    return 0 if activities["total"] >= 3 and _pages_served(api) else 1


def _pages_served(api: str) -> bool:
    """The mini-program pages and their modules come from the API's origin."""
    urls = [f"{api}/mp/", f"{api}/mp/app.js", f"{api}/mp/vendor/jsQR.js", f"{api}/mp/config.json"]
    ok = all(requests.get(url, timeout=5).status_code == 200 for url in urls)
    print(f"check: mini-program pages at {api}/mp/ {'served' if ok else 'NOT served'}")
    return ok


def _delivered(mock: str, openid: str, timeout: float = 30) -> bool:
    def arrived() -> bool:
        return bool(requests.get(f"{mock}/_mock/messages", params={"openid": openid},
                                 timeout=5).json()["items"])

    try:
        return processes.wait_until(arrived, timeout, interval_s=0.3)
    except TimeoutError:
        return False


if __name__ == "__main__":
    sys.exit(main())
