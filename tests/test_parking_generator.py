"""The roster generator against SPEC §8, judged by the independent checker
(``tests/roster_checker.py``) on many random teams and availability patterns."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import date, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.parking.generator import Member, generate
from backend.parking.rules import Availability, Shift, shift_times
from tests.roster_checker import could_take, violations

THREE_SHIFTS = [("早班", time(7), time(15), 1), ("中班", time(15), time(23), 1),
                ("夜班", time(23), time(7), 1)]
DECEMBER = date(2026, 12, 1)


def make_slots(first: date, days: int, templates) -> list[Shift]:
    slots = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        for name, start, end, needed in templates:
            starts, ends = shift_times(day, start, end)
            slots += [Shift(day, name, starts, ends)] * needed
    return slots


def as_dicts(slots: list[Shift], assigned: dict[int, int]) -> list[dict]:
    return [{"user_id": user, "date": slots[i].day, "start": slots[i].start,
             "end": slots[i].end, "index": i} for i, user in assigned.items()]


def availability_map(members: list[Member]) -> dict[int, dict]:
    return {m.user_id: {"unavailable": m.availability.unavailable,
                        "max_per_week": m.availability.max_per_week} for m in members}


def counts(members: list[Member], assigned: dict[int, int]) -> dict[int, int]:
    tally = Counter(assigned.values())
    return {m.user_id: tally.get(m.user_id, 0) for m in members}


# --- random teams ----------------------------------------------------------------------------

templates = st.lists(
    st.tuples(st.integers(0, 23), st.integers(0, 3), st.integers(3, 13), st.integers(1, 2))
    .map(lambda t: (f"班{t[0]:02d}{t[1] * 15:02d}", time(t[0], t[1] * 15),
                    time((t[0] + t[2]) % 24, t[1] * 15), t[3])),
    min_size=1, max_size=4, unique_by=lambda t: t[0])


@st.composite
def teams(draw):
    days = draw(st.integers(1, 21))
    first = DECEMBER + timedelta(days=draw(st.integers(0, 40)))
    span = [first + timedelta(days=d) for d in range(-1, days + 1)]
    members = []
    for user_id in range(1, draw(st.integers(1, 12)) + 1):
        members.append(Member(user_id, Availability(
            unavailable=frozenset(draw(st.lists(st.sampled_from(span), max_size=days))),
            max_per_week=draw(st.none() | st.integers(0, 6)),
            no_night=draw(st.booleans()),
            avoid_shifts=frozenset())))
    return make_slots(first, days, draw(templates)), members


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(teams())
def test_generated_rosters_never_break_a_hard_rule(team):
    slots, members = team
    result = generate(slots, members)
    assert violations(as_dicts(slots, result.assigned), availability_map(members)) == []
    assert set(result.assigned) | set(result.unfilled) == set(range(len(slots)))
    assert not set(result.assigned) & set(result.unfilled)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(teams())
def test_unfilled_slots_are_ones_nobody_could_take(team):
    slots, members = team
    result = generate(slots, members)
    shifts = as_dicts(slots, result.assigned)
    rules = availability_map(members)
    for index in result.unfilled:
        slot = {"date": slots[index].day, "start": slots[index].start, "end": slots[index].end}
        assert not any(could_take(m.user_id, slot, shifts, rules) for m in members)
        assert sum(result.unfilled[index].values()) == len(members)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(teams())
def test_no_single_hand_over_could_narrow_the_spread(team):
    """No shift can go from a busiest member to one two below so that max − min shrinks
    (with several at the maximum one such move alone shrinks nothing, and may cost a
    night wish: the SPEC's later goals then decide)."""
    slots, members = team
    result = generate(slots, members)
    shifts = as_dicts(slots, result.assigned)
    tally = counts(members, result.assigned)
    rules = availability_map(members)
    top, spread = max(tally.values()), max(tally.values()) - min(tally.values())
    for shift in (s for s in shifts if tally[s["user_id"]] == top):
        for member in members:
            if tally[member.user_id] <= top - 2 and \
                    could_take(member.user_id, shift, shifts, rules, ignoring=shift):
                after = {**tally, shift["user_id"]: top - 1,
                         member.user_id: tally[member.user_id] + 1}
                assert max(after.values()) - min(after.values()) >= spread


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(1, 3), st.lists(st.tuples(st.integers(0, 20), st.integers(4, 12)),
                                   min_size=1, max_size=6),
       st.lists(st.none() | st.integers(0, 2), min_size=3, max_size=3))
def test_fills_as_many_slots_as_an_exhaustive_search(size, spec, limits):
    """On teams small enough to try every roster, nothing fillable is left unfilled."""
    base = DECEMBER
    slots = []
    for hour_offset, length in spec:
        start = shift_times(base, time(0), time(1))[0] + timedelta(hours=hour_offset)
        slots.append(Shift(start.date(), f"班{hour_offset}", start,
                           start + timedelta(hours=length)))
    members = [Member(u, Availability(max_per_week=limits[u - 1])) for u in range(1, size + 1)]
    rules = availability_map(members)
    best = 0
    for choice in itertools.product([None, *range(1, size + 1)], repeat=len(slots)):
        assigned = {i: u for i, u in enumerate(choice) if u is not None}
        if len(assigned) > best and not violations(as_dicts(slots, assigned), rules):
            best = len(assigned)
    assert len(generate(slots, members).assigned) == best


# --- fairness at the bound --------------------------------------------------------------------


@pytest.mark.parametrize("size", [4, 5, 7, 10, 13, 30, 41, 100])
@pytest.mark.parametrize("days", [28, 31])
def test_shift_and_night_counts_within_one_when_everyone_is_free(size, days):
    members = [Member(u) for u in range(1, size + 1)]
    slots = make_slots(DECEMBER, days, THREE_SHIFTS)
    result = generate(slots, members)
    assert result.unfilled == {}
    tally = counts(members, result.assigned)
    assert max(tally.values()) - min(tally.values()) <= 1
    nights = Counter(u for i, u in result.assigned.items() if slots[i].is_night)
    night_counts = [nights.get(m.user_id, 0) for m in members]
    assert max(night_counts) - min(night_counts) <= 1


def test_counts_within_one_with_scattered_days_off():
    members = [Member(u, Availability(unavailable=frozenset(
        DECEMBER + timedelta(days=(u * 7 + k) % 31) for k in range(4))))
        for u in range(1, 31)]
    slots = make_slots(DECEMBER, 31, THREE_SHIFTS)
    result = generate(slots, members)
    assert result.unfilled == {}
    tally = counts(members, result.assigned)
    assert max(tally.values()) - min(tally.values()) <= 1
    assert violations(as_dicts(slots, result.assigned), availability_map(members)) == []


# --- particular rules -------------------------------------------------------------------------


def test_a_night_shift_into_an_unavailable_day_is_not_given():
    """23:00 on the 23rd to 07:00 on the 24th touches the 24th."""
    slots = make_slots(date(2026, 12, 23), 1, [("夜班", time(23), time(7), 1)])
    away = Member(1, Availability(unavailable=frozenset({date(2026, 12, 24)})))
    result = generate(slots, [away])
    assert result.assigned == {} and result.unfilled == {0: {"unavailable": 1}}
    assert generate(slots, [away, Member(2)]).assigned == {0: 2}


def test_rest_of_eight_hours_counts_across_midnight():
    """The night shift ends 07:00; a 14:00 shift the same day is 7 h later: refused."""
    slots = make_slots(DECEMBER, 1, [("夜班", time(23), time(7), 1)])
    slots += make_slots(DECEMBER + timedelta(days=1), 1, [("午班", time(14), time(18), 1)])
    result = generate(slots, [Member(1)])
    assert len(result.assigned) == 1 and list(result.unfilled.values()) == [{"rest": 1}]
    later = make_slots(DECEMBER + timedelta(days=1), 1, [("午班", time(15), time(18), 1)])
    assert len(generate(slots[:1] + later, [Member(1)]).assigned) == 2  # exactly 8 h


def test_weekly_maximum_is_counted_per_iso_week():
    slots = make_slots(date(2026, 12, 5), 4, [("早班", time(8), time(12), 1)])  # Sat..Tue
    result = generate(slots, [Member(1, Availability(max_per_week=1))])
    assert sorted(result.assigned) == [0, 2]  # one on the weekend, one from Monday


def test_shifts_held_in_other_rosters_count_for_rest_and_week():
    held = make_slots(DECEMBER - timedelta(days=1), 1, [("夜班", time(23), time(7), 1)])
    slots = make_slots(DECEMBER, 1, [("早班", time(7), time(15), 1)])
    result = generate(slots, [Member(1, fixed=tuple(held))])
    assert result.assigned == {}


def test_no_night_wish_is_honoured_when_others_can_cover():
    members = [Member(u, Availability(no_night=u <= 3)) for u in range(1, 13)]
    slots = make_slots(DECEMBER, 31, THREE_SHIFTS)
    result = generate(slots, members)
    nights_of_wishers = [u for i, u in result.assigned.items() if slots[i].is_night and u <= 3]
    assert nights_of_wishers == []
    tally = counts(members, result.assigned)
    assert max(tally.values()) - min(tally.values()) <= 1


def test_avoided_shift_names_are_swapped_away_when_possible():
    members = [Member(1, Availability(avoid_shifts=frozenset({"早班"})))] + \
        [Member(u) for u in range(2, 7)]
    slots = make_slots(DECEMBER, 14, THREE_SHIFTS)
    result = generate(slots, members)
    assert not [i for i, u in result.assigned.items() if u == 1 and slots[i].name == "早班"]


def test_the_same_input_gives_the_same_roster():
    members = [Member(u, Availability(max_per_week=u % 4 + 1)) for u in range(1, 15)]
    slots = make_slots(DECEMBER, 31, THREE_SHIFTS)
    assert generate(slots, members) == generate(slots, members)


def test_an_empty_team_leaves_every_slot_unfilled():
    slots = make_slots(DECEMBER, 2, THREE_SHIFTS)
    result = generate(slots, [])
    assert result.assigned == {} and len(result.unfilled) == 6
