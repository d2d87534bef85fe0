"""The refusal catalogue (backend/refusals.py) against SPEC, the code and the OpenAPI document.

SPEC is read from docs/SPEC.md, the repository's copy of the product spec.
"""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path

from backend import refusals
from backend.common.clock import now
from backend.refusals import catalogue
from scripts import refusals_convert

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs" / "SPEC.md"
BACKEND = ROOT / "backend"

# Domain codes whose call sites still tell different situations apart with a message of
# their own (.saying): changing what a client reads is a product decision, not a refactor.
# The generic codes (not_found, forbidden, …) always name the record or the role.
GENERIC = {"bad_request", "unauthenticated", "forbidden", "not_found", "validation_error",
           "rate_limited", "unavailable"}
KNOWN_VARIANTS = {"activity_ended", "activity_not_ended", "activity_not_published",
                  "four_eyes_required",
                  "handover_not_allowed", "invalid_code", "not_a_resident", "not_a_team_member",
                  "rate_requires_staff", "swap_conflict", "swap_not_pending", "time_conflict"}


def spec_codes(text: str) -> set[tuple[int, str]]:
    """(status, code) for every backticked code SPEC names right after a 4xx status.

    A status applies to the codes that follow it up to the end of its sentence or clause
    ("Refusals (409): `a`, `b` …." names both a and b).
    """
    found: set[tuple[int, str]] = set()
    flat = " ".join(text.split())
    for match in re.finditer(r"\b(4\d\d)\b", flat):
        rest = flat[match.end():]
        clause = re.split(r"\.\s|;|\b\d{3}\b", rest, maxsplit=1)[0]
        # codes in the clause, outside parentheses that merely explain a code
        clause = re.sub(r"\((?!\s*`)[^)]*\)", "", clause)
        for code in re.findall(r"`([a-z]+(?:_[a-z]+)*)`", clause):
            found.add((int(match.group(1)), code))
    return found


def test_the_spec_parser_finds_the_codes_it_should():
    found = spec_codes(SPEC.read_text())
    assert {(409, "signup_not_open"), (409, "time_conflict"), (403, "four_eyes_required"),
            (409, "already_reversed"), (422, "validation_error"), (401, "unauthenticated"),
            (409, "idempotency_key_reused"), (409, "evaluation_closed")} <= found
    # explanatory words in the same sentences are not codes
    assert not {code for _, code in found} & {"status", "open", "environment", "details"}


def test_every_code_spec_names_is_catalogued_with_its_status():
    entries = catalogue()
    for status, code in sorted(spec_codes(SPEC.read_text())):
        assert code in entries, f"SPEC names {status} `{code}`; backend/refusals.py has no entry"
        assert entries[code].status == status, code


def test_catalogue_entries_are_unique_and_well_formed():
    names = [n for n, v in vars(refusals).items() if isinstance(v, refusals.Refusal)]
    codes = [getattr(refusals, n).code for n in names]
    assert len(codes) == len(set(codes)), "one entry per code"
    for name in names:
        entry = getattr(refusals, name)
        assert name == entry.code.upper()
        assert 400 <= entry.status < 600 and entry.message
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", entry.code)


def _referenced_codes() -> set[str]:
    """Codes backend/ raises: catalogue names it uses, and literal codes not converted yet."""
    by_name = {name: v.code for name, v in vars(refusals).items()
               if isinstance(v, refusals.Refusal)}
    found = set()
    for path in BACKEND.rglob("*.py"):
        if path.name == "refusals.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name) and node.id in by_name and path.name != "routes.py":
                found.add(by_name[node.id])
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "ApiError" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                found.add(node.args[0].value)
    return found


def test_every_catalogue_code_is_raised_somewhere():
    unreachable = set(catalogue()) - _referenced_codes()
    assert not unreachable, f"catalogued but never raised: {unreachable}"


def test_no_inline_refusal_is_left_and_every_route_is_documented():
    """The converter would change nothing: no ApiError literal outside the catalogue, and
    each view's @refuses matches what its call graph can raise."""
    files = [p for p in sorted(BACKEND.rglob("*.py"))
             if str(p.relative_to(ROOT)) not in refusals_convert.SKIP_FILES]
    assert refusals_convert.convert(files, write=False) == []
    assert refusals_convert.document_routes(write=False) == []


def test_only_the_known_codes_carry_messages_of_their_own():
    saying = set()
    by_name = {name: v.code for name, v in vars(refusals).items()
               if isinstance(v, refusals.Refusal)}
    for path in BACKEND.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr == "saying"
                    and isinstance(node.value, ast.Name) and node.value.id in by_name):
                saying.add(by_name[node.value.id])
    assert saying - GENERIC <= KNOWN_VARIANTS, "one code, one message: add the situation's " \
        "words as a template field, or a code SPEC allows"


def _views(app):
    """(rule, method, view function) for every API operation."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or "openapi" in rule.rule or "docs" in rule.rule:
            continue
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, getattr(view_class, method.lower()) if view_class else view


def test_every_route_documents_its_refusals_in_the_openapi_description(app, client):
    spec = client.get("/api/v1/openapi.json").json
    checked = 0
    for rule, method, view in _views(app):
        assert hasattr(view, "_refusals"), f"{method} {rule.rule} has no @refuses"
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        operation = spec["paths"][path][method.lower()]
        for entry in view._refusals:
            response = operation["responses"][str(entry.status)]
            assert f"`{entry.code}`" in response["description"], (method, path, entry.code)
            assert response["content"]["application/json"]["schema"]["$ref"].endswith(
                "/ErrorEnvelope")
        checked += 1
    assert checked > 80


# --- one HTTP answer per code family: the code, the status and the catalogue's message ---

def _refused(response, entry, message=None):
    assert response.status_code == entry.status, response.json
    assert response.json["error"]["code"] == entry.code
    assert response.json["error"]["message"] == (message or entry.message)


def test_generic_refusals_over_http(make, world):
    _refused(make.call("GET", "/api/v1/me"), refusals.UNAUTHENTICATED)
    _refused(make.call("GET", "/api/v1/activities/987654", world.resident_a),
             refusals.NOT_FOUND, "找不到该活动")
    activity = make.activity(world.team_a)
    _refused(make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_b),
             refusals.NOT_FOUND, "找不到该活动")
    _refused(make.call("POST", f"/api/v1/activities/{activity}/signups", world.staff_a),
             refusals.FORBIDDEN, "仅本社区居民可以报名")
    bad = make.call("POST", "/api/v1/communities", world.admin, json={"name": 5})
    assert bad.status_code == 422 and bad.json["error"]["code"] == "validation_error"


def test_domain_refusals_over_http(make, world):
    later = make.activity(world.team_a, signup_opens_at=now() + timedelta(hours=5))
    _refused(make.call("POST", f"/api/v1/activities/{later}/signups", world.resident_a),
             refusals.SIGNUP_NOT_OPEN)
    starts = now() + timedelta(days=3)
    first = make.activity(world.team_a, title="义诊", starts_at=starts)
    second = make.activity(world.team_a2, starts_at=starts + timedelta(hours=1))
    assert make.call("POST", f"/api/v1/activities/{first}/signups",
                     world.resident_a).status_code == 201
    clash = make.call("POST", f"/api/v1/activities/{second}/signups", world.resident_a)
    _refused(clash, refusals.TIME_CONFLICT, refusals.TIME_CONFLICT(title="义诊").message)
    assert clash.json["error"]["message"] == "与已报名的活动「义诊」时间冲突"


def test_request_hook_refusals_over_http(make, world):
    headers = {"Idempotency-Key": "refusals-1"}
    make.call("POST", "/api/v1/communities", world.admin, json={"name": "甲", "street": "乙"},
              headers=headers)
    _refused(make.call("POST", "/api/v1/communities", world.admin,
                       json={"name": "丙", "street": "乙"}, headers=headers),
             refusals.IDEMPOTENCY_KEY_REUSED)
    malformed = make.call("POST", "/api/v1/communities", world.admin, data="{oops",
                          content_type="application/json")
    assert malformed.status_code == 400 and malformed.json["error"]["code"] == "bad_request"


def test_a_refusal_builds_the_envelope_error():
    error = refusals.LIMIT_EXCEEDED(per_user_limit=2, details={"limit": 2})
    assert (error.code, error.status, error.message, error.details) == (
        "limit_exceeded", 409, "每人限兑 2 件", {"limit": 2})
    said = refusals.NOT_FOUND.saying("找不到该礼品")
    assert (said.code, said.status, said.message) == ("not_found", 404, "找不到该礼品")


def test_a_404_refusal_is_still_caught_as_not_found():
    # services ask "is this visible?" with ``except NotFound`` (checkin/services.py _visible)
    from backend.errors import ApiError, Forbidden, NotFound

    assert isinstance(refusals.NOT_FOUND.saying("找不到该活动"), NotFound)
    assert isinstance(refusals.FOUR_EYES_REQUIRED(), Forbidden)
    assert type(refusals.OUT_OF_STOCK()) is ApiError


def test_generic_entries_say_what_the_error_handlers_say():
    from backend.errors import STATUS_CODES

    for entry in catalogue().values():
        if entry.code in GENERIC:
            assert STATUS_CODES[entry.status] == (entry.code, entry.message)
