"""The roster generator against an exact solver (SPEC §8: "as good as an exact solver's on
each of these levels in turn"): on seeded small, tight teams of 5–15 members over one
month of three shifts (the night one crossing midnight), with days off, weekly caps and
no-night wishes, each soft level of the generator's roster equals CP-SAT's proven
lexicographic optimum — slots filled, then the shift spread, then the nights given to
members who asked for none, then the night spread.

The instances are ``tight_team(seed)`` (``scripts/bench/roster.py``) for seeds 0–59. Seeds
0–299 were compared while the generator was written: it matches on all but seeds 113 and
140, kept below as strict xfails so that the gaps stay visible (README, "Duty rosters").

These tests use no database; they run once, in the SQLite run of ``scripts/test``.
"""

from __future__ import annotations

from datetime import date

import pytest

from backend.parking.generator import generate
from tests.conftest import ON_POSTGRES
from tests.roster_oracle import month_slots, score, solve, tight_team

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="database-free: runs in the SQLite run")

FIRST_DAY = date(2026, 12, 1)
SLOTS = month_slots(FIRST_DAY, 31)
SEEDS = range(60)


@pytest.mark.parametrize("seed", SEEDS)
def test_each_soft_level_matches_the_exact_optimum(seed):
    members = tight_team(seed, FIRST_DAY, 31)
    assert 5 <= len(members) <= 15
    mine = score(SLOTS, members, generate(SLOTS, members).assigned)
    best = solve(SLOTS, members, time_limit_s=10)
    assert best.proven, f"CP-SAT did not prove its optimum within the limit: {best}"
    assert score(SLOTS, members, best.assigned) == best.score  # the oracle agrees with itself
    for level in ("filled", "spread", "night_wishes_broken", "night_spread"):
        assert getattr(mine, level) == getattr(best.score, level), \
            f"seed {seed}, {len(members)} members: {level} {mine} vs optimum {best.score}"


def test_the_instances_are_tight():
    """Not every month can be covered: some instances leave slots no roster fills, and the
    heuristic has to reach the optimum there too, not only on easy months."""
    short = [seed for seed in SEEDS
             if solve(SLOTS, tight_team(seed, FIRST_DAY, 31), time_limit_s=5,
                      levels=1).score.filled < len(SLOTS)]
    assert len(short) >= 3


@pytest.mark.xfail(strict=True, reason="known gaps (README, 'Duty rosters')")
@pytest.mark.parametrize(("seed", "levels", "what"), [
    (113, 1, "5 members, one uncapped: the generator fills 89 slots, the optimum 90"),
    (140, 3, "6 members, one takes nights: 13 nights to those who asked for none, not 12"),
])
def test_known_gaps_to_the_optimum(seed, levels, what):
    members = tight_team(seed, FIRST_DAY, 31)
    mine = score(SLOTS, members, generate(SLOTS, members).assigned)
    best = solve(SLOTS, members, time_limit_s=10, levels=levels)
    assert best.proven
    assert mine.key()[:levels] == best.score.key()[:levels], what
