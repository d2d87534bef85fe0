"""The district (issue #19): `scripts/district up|status|down` starts nginx, two app nodes,
two RQ workers, a PostgreSQL primary with a streaming replica, Redis and the mock WeChat
platform on loopback, from deploy/'s files; traffic spreads over the nodes, reports read the
replica, a killed node is passed over and started again, and `down` leaves nothing running.

It starts its own servers, so it runs once, in the PostgreSQL pass.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from dotenv import dotenv_values

from scripts.processes import ROOT, Process, descendants, free_port, is_alive, wait_until
from scripts.services import NginxServer, ServiceError, render_template

pytestmark = pytest.mark.postgres_only

NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def _command(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scripts.district", *args,
                           "--workdir", str(workdir)], cwd=ROOT, env=_clean_env(),
                          capture_output=True, text=True, timeout=180)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("LINLI_", "PG"))}


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("district")
    state_path = workdir / "state.json"
    up = Process("scripts/district up", [
        sys.executable, "-m", "scripts.district", "up", "--port", "0", "--workdir",
        str(workdir)], env=_clean_env(), log_path=workdir / "up.log",
        ready=lambda _process: state_path.exists(), start_timeout_s=240,
        stop_steps=((signal.SIGTERM, 90.0),))
    up.start()
    try:
        yield workdir, json.loads(state_path.read_text()), up
    finally:
        up.stop()
        print("--- scripts/district up ---", up.tail(40), sep="\n")


def _state(workdir: Path) -> dict:
    return json.loads((workdir / "state.json").read_text())


def _piece(state: dict, name: str) -> dict:
    return next(p for p in state["pieces"] if p["name"] == name)


def _login(state: dict, openid: str) -> dict[str, str]:
    mock = _piece(state, "mock WeChat")["address"]
    code = requests.post(f"{mock}/_mock/login-code", json={"openid": openid},
                         timeout=10).json()["code"]
    answer = requests.post(f"{state['url']}/api/v1/auth/wechat-login", json={"code": code},
                           timeout=10)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _node_log_lines(state: dict, node: str) -> list[dict]:
    lines = Path(_piece(state, node)["log"]).read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_status_names_every_piece_answering_and_readyz_through_nginx(district):
    workdir, state, _up = district
    names = [p["name"] for p in state["pieces"]]
    assert names == ["nginx", "node-1", "node-2", "worker-1", "worker-2", "mock WeChat",
                     "redis", "postgres primary", "postgres replica"]
    status = _command(workdir, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count("answering") == len(names)
    ready = requests.get(f"{state['url']}/readyz", timeout=10).json()
    assert ready["status"] == "ready"
    assert set(ready["checks"]) == {"database", "migrations", "redis", "replica"}


def test_requests_spread_over_both_nodes_with_one_request_id_and_the_real_client(district):
    _workdir, state, _up = district
    headers = _login(state, "demo-resident")
    ids = [f"district-{i:03d}" for i in range(20)]
    for request_id in ids:
        # A forged X-Forwarded-For: behind one proxy the app counts nginx's view of the
        # caller (LINLI_PROXY_COUNT=1 from deploy/linli.env), never the client's claim.
        answer = requests.get(f"{state['url']}/api/v1/activities", timeout=10,
                              headers={**headers, "X-Request-Id": request_id,
                                       "X-Forwarded-For": "203.0.113.9"})
        assert answer.status_code == 200
        assert answer.headers["X-Request-Id"] == request_id
    served = Counter()
    for node in ("node-1", "node-2"):
        for line in _node_log_lines(state, node):
            if line.get("request_id") in ids:
                served[node] += 1
                assert line["remote_addr"] == "127.0.0.1"
                assert line["path"] == "/api/v1/activities"
    assert sum(served.values()) == len(ids)
    assert served["node-1"] > 0 and served["node-2"] > 0, served


def test_reports_read_the_replica_and_a_sign_up_reaches_the_mock_through_a_worker(district):
    _workdir, state, _up = district
    admin = _login(state, "demo-admin")
    overview = requests.get(f"{state['url']}/api/v1/street/overview", headers=admin,
                            timeout=10)
    assert overview.status_code == 200, overview.text
    assert overview.headers["X-Linli-Read-From"] == "replica"

    resident = _login(state, "demo-neighbour-2")
    template = next(t["template_id"] for t in requests.get(
        f"{state['url']}/api/v1/notifications/templates", headers=resident,
        timeout=10).json()["items"] if t["key"] == "signup_confirmed")
    mock = _piece(state, "mock WeChat")["address"]
    requests.post(f"{mock}/_mock/subscribe", json={"openid": "demo-neighbour-2",
                                                  "template_id": template}, timeout=10)
    assert requests.post(f"{state['url']}/api/v1/me/subscriptions", headers=resident,
                         json={"template_ids": [template]}, timeout=10).status_code == 201
    activities = requests.get(f"{state['url']}/api/v1/activities", headers=resident,
                              timeout=10).json()["items"]
    open_ones = [a for a in activities if a["status"] == "published"
                 and a["my_signup"] is None
                 and datetime.fromisoformat(a["starts_at"]) > datetime.now(UTC)]
    signup = requests.post(f"{state['url']}/api/v1/activities/{open_ones[-1]['id']}/signups",
                           headers=resident, timeout=10)
    assert signup.status_code == 201, signup.text

    def delivered() -> list:
        return requests.get(f"{mock}/_mock/messages", params={"openid": "demo-neighbour-2"},
                            timeout=10).json()["items"]

    wait_until(delivered, 60, interval_s=0.3)
    assert [m["template_id"] for m in delivered()] == [template]


def test_a_killed_node_is_passed_over_and_started_again(district):
    workdir, state, _up = district
    victim = _piece(state, "node-1")
    tree = descendants(victim["pid"])
    os.kill(victim["pid"], signal.SIGKILL)
    for pid in tree:
        os.kill(pid, signal.SIGKILL)
    # nginx passes over the node that refuses connections: every request still answers.
    statuses = Counter(requests.get(f"{state['url']}/healthz", timeout=10).status_code
                       for _ in range(30))
    assert statuses == {200: 30}

    def restarted() -> dict | None:
        piece = _piece(_state(workdir), "node-1")
        return piece if piece["pid"] != victim["pid"] else None

    wait_until(restarted, 60, interval_s=0.3)
    again = restarted()
    assert is_alive(again["pid"], again["started"])
    assert requests.get(f"{again['address']}/healthz", timeout=10).status_code == 200
    assert _command(workdir, "status").returncode == 0


def test_down_stops_every_piece_by_its_pid(district):
    workdir, _state_at_start, up = district
    pieces = _state(workdir)["pieces"]
    down = _command(workdir, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not up.running
    assert not (workdir / "state.json").exists()
    assert [p["name"] for p in pieces if is_alive(p["pid"], p["started"])] == []
    assert _command(workdir, "status").returncode == 1


# --- deploy/nginx.conf on its own --------------------------------------------------------------


def test_with_no_node_to_answer_nginx_answers_the_specs_envelope():
    dead = free_port()  # nothing listens there
    values = {"LINLI_APP_SERVERS": f"server 127.0.0.1:{dead} max_fails=1 fail_timeout=5s;"}
    with NginxServer(NGINX_CONF, values) as nginx:
        answer = requests.post(f"{nginx.url()}/api/v1/activities/1/signups", timeout=10)
        assert answer.status_code == 503
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.headers["Retry-After"] == "5"
        assert answer.json()["error"]["code"] == "unavailable"
        huge = requests.post(f"{nginx.url()}/api/v1/needs", data=b"x" * (3 << 20), timeout=10)
        assert huge.status_code == 413
        assert huge.json()["error"]["code"] == "payload_too_large"
        # nginx writes a request's line after it has answered it.
        lines = wait_until(lambda: nginx.access_log.read_text().splitlines(), 10,
                           interval_s=0.05)
        line = json.loads(lines[0])
        assert line["status"] == 503 and line["upstream"].endswith(f":{dead}")


def test_the_template_fills_only_its_own_placeholders():
    text = "listen ${LINLI_PROXY_LISTEN}; proxy_set_header Host $host; map ${host} $x {}"
    assert render_template(text, {"LINLI_PROXY_LISTEN": "127.0.0.1:80"}) == \
        "listen 127.0.0.1:80; proxy_set_header Host $host; map ${host} $x {}"
    with pytest.raises(ServiceError, match="LINLI_APP_SERVERS"):
        render_template("upstream a { ${LINLI_APP_SERVERS} }", {})


def test_every_setting_deploy_gives_an_operator_is_in_the_readme():
    deployed = dotenv_values(ROOT / "deploy" / "linli.env")
    assert deployed["LINLI_ENV"] == "production"
    assert deployed["LINLI_PROXY_COUNT"] == "1"  # nginx in front of every node
    settings_table = (ROOT / "README.md").read_text().split("## Settings", 1)[1]
    assert [name for name in deployed if f"`{name}`" not in settings_table
            and f"`{name}`," not in settings_table] == []
