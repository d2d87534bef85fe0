"""An exact oracle for the roster generator: OR-Tools CP-SAT, solved lexicographically in
SPEC §8's order — most slots filled, then the smallest shift spread (max − min over every
member), then the fewest nights for members who asked for none, then the smallest night
spread among members who accept nights — each level proven optimal and fixed before the
next. The seeded teams it is held against are the roster benchmark's (``tight_team``).

The model is written from the SPEC's rules with ``rules.too_close`` and ``Shift`` only
for times; the generator's own code is not used, so the two do not share mistakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta

from ortools.sat.python import cp_model

from backend.parking.generator import Member
from backend.parking.rules import Shift, shift_times, too_close
from scripts.bench.roster import tight_team

__all__ = ["Optimum", "Score", "month_slots", "score", "solve", "tight_team"]

THREE_SHIFTS = [("早班", time(7), time(15)), ("中班", time(15), time(23)),
                ("夜班", time(23), time(7))]  # the night shift crosses midnight
LEVELS = ("filled", "spread", "night_wishes_broken", "night_spread")


@dataclass(frozen=True)
class Score:
    """A roster's soft levels, in the SPEC's order (lexicographic: lower is better)."""

    filled: int
    spread: int
    night_wishes_broken: int
    night_spread: int

    def key(self) -> tuple[int, int, int, int]:
        return (-self.filled, self.spread, self.night_wishes_broken, self.night_spread)


@dataclass
class Optimum:
    score: Score
    proven: bool  # every level solved to optimality within its time limit
    wall_s: float
    assigned: dict[int, int]  # an optimal roster: slot index → user_id


def month_slots(first: date, days: int) -> list[Shift]:
    slots = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        for name, start, end in THREE_SHIFTS:
            starts, ends = shift_times(day, start, end)
            slots.append(Shift(day, name, starts, ends))
    return slots


def score(slots: Sequence[Shift], members: Sequence[Member], assigned: dict[int, int]) -> Score:
    counts = dict.fromkeys((m.user_id for m in members), 0)
    nights = dict.fromkeys(counts, 0)
    for index, user_id in assigned.items():
        counts[user_id] += 1
        nights[user_id] += slots[index].is_night
    averse = {m.user_id for m in members if m.availability.no_night}
    willing = [u for u in counts if u not in averse] or list(counts)
    spread = max(counts.values()) - min(counts.values()) if counts else 0
    night_counts = [nights[u] for u in willing] or [0]
    return Score(len(assigned), spread, sum(nights[u] for u in averse),
                 max(night_counts) - min(night_counts))


def solve(slots: Sequence[Shift], members: Sequence[Member], hint: dict[int, int] | None = None,
          time_limit_s: float = 20.0, workers: int = 2, levels: int = 4) -> Optimum:
    """The lexicographic optimum (each level bounded by ``time_limit_s``); with ``levels``
    < 4 only the first ones are solved (the others read off the roster found)."""
    model = cp_model.CpModel()
    x = _placements(model, slots, members)
    counts = {m.user_id: sum(v for (u, _), v in x.items() if u == m.user_id) for m in members}
    nights = {m.user_id: sum(v for (u, i), v in x.items() if u == m.user_id and slots[i].is_night)
              for m in members}
    averse = [m.user_id for m in members if m.availability.no_night]
    willing = [m.user_id for m in members if not m.availability.no_night] or list(counts)
    n = len(slots)
    objectives = [
        ("filled", -sum(x.values())),
        ("spread", _spread(model, list(counts.values()), n)),
        ("night_wishes_broken", sum(nights[u] for u in averse)),
        ("night_spread", _spread(model, [nights[u] for u in willing], n)),
    ]
    if hint:
        for (user_id, i), var in x.items():
            model.AddHint(var, hint.get(i) == user_id)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = 1
    values, proven, wall = [], True, 0.0
    for _, objective in objectives[:levels]:
        model.Minimize(objective)
        status = solver.Solve(model)
        wall += solver.WallTime()
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise AssertionError(f"CP-SAT found no roster: {solver.StatusName(status)}")
        proven &= status == cp_model.OPTIMAL
        best = round(solver.ObjectiveValue())
        values.append(best)
        model.Add(objective == best)  # fix this level before optimising the next
        model.ClearHints()
        for var in x.values():  # the next level starts from this solution
            model.AddHint(var, bool(solver.Value(var)))
    assigned = {i: user_id for (user_id, i), var in x.items() if solver.Value(var)}
    found = score(slots, members, assigned)
    values += [getattr(found, level) for level in LEVELS[len(values):]]
    return Optimum(Score(-values[0], *values[1:]), proven, wall, assigned)


def _placements(model: cp_model.CpModel, slots: Sequence[Shift],
                members: Sequence[Member]) -> dict[tuple[int, int], cp_model.IntVar]:
    """x[user, slot] for every placement the day-off rule allows, with the other hard rules
    as constraints: one member per slot, rest between shifts, the weekly maximum."""
    x = {}
    for m in members:
        for i, slot in enumerate(slots):
            if not slot.local_days & m.availability.unavailable:
                x[m.user_id, i] = model.NewBoolVar(f"x{m.user_id}_{i}")
    for i in range(len(slots)):
        model.AddAtMostOne(x[u, j] for (u, j) in x if j == i)
    for m in members:
        mine = sorted((i for (u, i) in x if u == m.user_id), key=lambda i: slots[i].start)
        for a, i in enumerate(mine):
            for j in mine[a + 1:]:
                if slots[j].start >= slots[i].end + timedelta(days=1):
                    break
                if too_close(slots[i], slots[j]):
                    model.AddBoolOr([x[m.user_id, i].Not(), x[m.user_id, j].Not()])
        cap = m.availability.max_per_week
        if cap is not None:
            for week in {slots[i].week for i in mine}:
                model.Add(sum(x[m.user_id, i] for i in mine if slots[i].week == week) <= cap)
    return x


def _spread(model: cp_model.CpModel, values: list, bound: int):
    top, bottom = model.NewIntVar(0, bound, "top"), model.NewIntVar(0, bound, "bottom")
    for value in values:
        model.Add(top >= value)
        model.Add(bottom <= value)
    # Redundant, but it lets the solver see at once that 31 nights over 8 members cannot
    # be level: k·bottom ≤ Σ ≤ k·top.
    model.Add(len(values) * bottom <= sum(values))
    model.Add(sum(values) <= len(values) * top)
    return top - bottom
