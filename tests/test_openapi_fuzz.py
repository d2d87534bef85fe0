"""Schemathesis fuzzes every operation of the OpenAPI description (SPEC §11).

Requests come from the schema (valid and invalid: both generation modes, in every phase),
sent as a resident, a leader and a staff member: no 500s, and every answer matches what the
description promises.
"""

from __future__ import annotations

import zlib
from datetime import date, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from backend.common.clock import MAX_YEAR, MIN_YEAR, now
from tests.parking_helpers import parking_team

schema = schemathesis.pytest.from_fixture("api_schema")

# Dates are described as format date / date-time in the years 2000–2100 (a pattern on the
# year): generate them there, so that valid ones are not 1 in 80 of the fuzzer's picks.
_DATES = st.dates(min_value=date(MIN_YEAR, 1, 1), max_value=date(MAX_YEAR, 12, 31))
_OFFSETS = st.sampled_from(["Z", "+08:00", "-05:00", "+00:00"])
schemathesis.openapi.format("date", _DATES.map(date.isoformat))
schemathesis.openapi.format("date-time", st.builds(
    lambda day, seconds, offset: f"{day.isoformat()}T{seconds // 3600:02d}:"
                                 f"{seconds // 60 % 60:02d}:{seconds % 60:02d}{offset}",
    _DATES, st.integers(0, 86_399), _OFFSETS))

# Rules between fields and against the clock ("ends after it starts", "starts in the
# future") cannot be written in OpenAPI 3.0, so schema-valid bodies may rightly get 422 here.
CROSS_FIELD_RULES = {"POST /api/v1/teams/{tid}/activities", "PATCH /api/v1/activities/{aid}",
                     "GET /api/v1/communities/{cid}/points/reconciliation",
                     "GET /api/v1/communities/{cid}/points/ledger.csv",
                     "GET /api/v1/communities/{cid}/points/ledger.xlsx",
                     # from ≤ to, not in the past, ≤ 62 days; shift names unique, end ≠ start
                     "POST /api/v1/teams/{tid}/rosters", "PUT /api/v1/teams/{tid}/shift-templates",
                     "GET /api/v1/me/shifts",
                     # residents of this community only; a team or need of this community
                     "PUT /api/v1/activities/{aid}/beneficiaries",
                     "POST /api/v1/needs/{nid}/triage"}

# These end tokens (the caller's, or a removed member's): sent by a throwaway user.
REVOKING = {"POST /api/v1/auth/logout", "DELETE /api/v1/communities/{cid}/staff/{uid}",
            "DELETE /api/v1/teams/{tid}/members/{uid}"}


@pytest.fixture
def api_schema(app):
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # Negative data (what breaks the description) is what finds the 500s: keep it on.
    loaded.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    return loaded


@pytest.fixture
def fuzz_people(make, world):
    make.activity(world.team_a)
    make.activity(world.team_a, published=False)
    parking_team(make, world, members=2)
    # A need and an ended activity, so the voice operations meet real rows (SPEC §9a).
    make.call("POST", f"/api/v1/communities/{world.a}/needs", world.resident_a,
              json={"title": "楼道灯坏了", "category": "safety"})
    make.activity(world.team_a, starts_at=now() - timedelta(hours=3),
                  ends_at=now() - timedelta(hours=1))
    return [world.resident_a, world.leader_a, world.staff_a]


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_answers_as_described(case, fuzz_people, make):
    # crc32, not hash(): str hashes are salted per process, so runs would not repeat.
    person = fuzz_people[zlib.crc32(case.operation.label.encode()) % len(fuzz_people)]
    if case.operation.label in REVOKING:
        person = make.user()  # the personas' tokens must outlive the fuzzing
    excluded = [positive_data_acceptance] if case.operation.label in CROSS_FIELD_RULES else []
    case.call_and_validate(headers=person.headers, excluded_checks=excluded)
