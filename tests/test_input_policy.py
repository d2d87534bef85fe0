"""One input policy (SPEC §2): every text field refuses NUL, control characters and lone
surrogates with a 422 in Chinese and has a length bound; every integer a range; every date
years 2000–2100; and an unsound JSON body is answered with the envelope before any view
runs (400, 413, 422) — on public endpoints too."""

from __future__ import annotations

import json

import marshmallow as ma
import pytest

from backend.common.clock import LocalDateTime
from backend.common.schemas import BoundedDate, TextPolicy, TrimmedString

ASCII_PATTERN = r"^\^[\x20-\x7e]*\$$"


def _argument_fields(app):
    """(operation, field path, field) of every field every view parses."""
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        functions = ([(m, getattr(view.view_class, m.lower())) for m in methods]
                     if hasattr(view, "view_class") else [(m, view) for m in methods])
        for method, function in functions:
            for parameter in getattr(function, "_apidoc", {}).get("arguments", {}).get(
                    "parameters", []):
                schema = parameter["schema"]
                schema = schema() if isinstance(schema, type) else schema
                yield from _fields(f"{method} {rule.rule}", schema, "")


def _fields(operation, schema, prefix):
    for name, field in schema.fields.items():
        label = prefix + (field.data_key or name)
        while isinstance(field, ma.fields.List):
            field, label = field.inner, label + "[]"
        if isinstance(field, ma.fields.Nested):
            yield from _fields(operation, field.schema, label + ".")
        else:
            yield operation, label, field


def _has_ascii_pattern(field) -> bool:
    patterns = [getattr(v, "regex", None) for v in field.validators]
    patterns = [p.pattern for p in patterns if p is not None] + [
        field.metadata.get("pattern", "")]
    import re

    return any(re.fullmatch(ASCII_PATTERN, p) for p in patterns if p)


def _bounded_range(field) -> bool:
    return any(isinstance(v, ma.validate.Range) and v.min is not None and v.max is not None
               for v in field.validators)


def test_every_field_of_every_operation_is_under_the_policy(app):
    loose = []
    for operation, label, field in _argument_fields(app):
        if isinstance(field, ma.fields.Date | ma.fields.DateTime):
            ok = isinstance(field, BoundedDate | LocalDateTime)
        elif isinstance(field, ma.fields.String):
            ok = isinstance(field, TrimmedString) or _has_ascii_pattern(field)
        elif isinstance(field, ma.fields.Number):
            ok = _bounded_range(field)
        else:
            ok = isinstance(field, ma.fields.Boolean | ma.fields.Enum)
        if not ok:
            loose.append(f"{operation} {label}: {type(field).__name__}")
    assert loose == []


@pytest.mark.parametrize("value, message", [
    ("张\x00三", "不能包含控制字符"), ("张\u0007三", "不能包含控制字符"), ("\ud800", "不能包含"),
    ("张三\n", "换行"), ("\u202e三张", "不能包含"), ("   ", "不能为空"),
    ("a" * 101, "最多 100 个字符"), ("", "不能为空"),
])
def test_text_fields_refuse_what_no_name_needs(make, world, value, message):
    response = make.call("POST", "/api/v1/communities", world.admin,
                         data=json.dumps({"name": value, "street": "和平街道"}),
                         content_type="application/json")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"
    [refusal] = response.json["error"]["details"]["fields"]["name"]  # one reason, not two
    assert message in refusal


def test_multi_line_fields_take_line_breaks_but_not_controls(make, world, soon):
    body = {"title": "义诊", "starts_at": soon(days=3), "ends_at": soon(days=3, hours=2),
            "capacity": 10, "description": "第一行\n第二行\t（缩进）"}
    path = f"/api/v1/teams/{world.team_a}/activities"
    created = make.call("POST", path, world.leader_a, json=body)
    assert created.status_code == 201 and created.json["description"] == body["description"]
    refused = make.call("POST", path, world.leader_a, json={**body, "description": "a\x00b"})
    assert refused.status_code == 422 and "description" in refused.json["error"]["details"][
        "fields"]


def test_the_policy_check_stays_linear_on_a_long_hostile_string():
    policy = TextPolicy(200_000)
    with pytest.raises(ma.ValidationError):
        policy(" " * 150_000 + "\x00")  # a backtracking pattern would take hours here


def _login(client, raw: bytes):
    return client.post("/api/v1/auth/wechat-login", data=raw, content_type="application/json")


HOSTILE_BODIES = [
    (b"[" * 100_000, 400), (b'{"code": ' + b"1" * 5000 + b"}", 422),
    (b'{"code": NaN}', 400), (b'{"\\ud800": "x"}', 400), (b'{"code": "\xff"}', 400),
    (json.dumps(json.loads("[" * 40 + "]" * 40)).encode(), 400),
    (b'{"code": "' + b"x" * (600 * 1024) + b'"}', 413),
]


@pytest.mark.parametrize("raw, status", HOSTILE_BODIES)
def test_unsound_bodies_are_answered_before_the_public_login_runs(client, raw, status):
    response = _login(client, raw)
    assert response.status_code == status
    assert set(response.json["error"]) == {"code", "message", "details"}


def test_a_long_number_is_refused_naming_its_field(make, world, soon):
    path = f"/api/v1/teams/{world.team_a}/activities"
    body = json.dumps({"title": "义诊", "starts_at": soon(days=3),
                       "ends_at": soon(days=3, hours=2), "capacity": 1})
    response = make.call("POST", path, world.leader_a, content_type="application/json",
                         data=body.replace('"capacity": 1', '"capacity": ' + "9" * 5000))
    assert response.status_code == 422
    assert response.json["error"]["details"]["fields"] == {"capacity": ["数字位数过多"]}


@pytest.mark.parametrize("field", ["starts_at", "ends_at", "signup_opens_at"])
def test_dates_outside_2000_to_2100_are_refused(make, world, soon, field):
    body = {"title": "义诊", "starts_at": soon(days=3), "ends_at": soon(days=3, hours=2),
            "capacity": 10, field: "9999-12-31T23:59:59+08:00"}
    response = make.call("POST", f"/api/v1/teams/{world.team_a}/activities", world.leader_a,
                         json=body)
    assert response.status_code == 422
    assert response.json["error"]["details"]["fields"][field] == ["日期须在 2000 年至 2100 年之间"]


def test_far_dates_are_refused_in_queries_and_lists_too(make, world):
    record = make.call("GET", "/api/v1/me/volunteer-record", world.resident_a,
                       query_string={"to": "9999-12-31T23:59:59Z"})
    shifts = make.call("GET", "/api/v1/me/shifts", world.resident_a,
                       query_string={"from": "1999-12-31"})
    assert record.status_code == shifts.status_code == 422


def test_an_idempotency_key_must_be_printable_ascii(make, world):
    for key in ("a\x00b", "键", "k" * 201):
        response = make.call("POST", "/api/v1/communities", world.admin,
                             json={"name": "甲", "street": "乙"},
                             headers={"Idempotency-Key": key})
        assert response.status_code == 422
        assert "Idempotency-Key" in response.json["error"]["details"]["fields"]


def test_no_token_is_still_a_401_whatever_the_body(client):
    response = client.post("/api/v1/communities", data=b"[" * 100_000,
                           content_type="application/json")
    assert response.status_code == 401
