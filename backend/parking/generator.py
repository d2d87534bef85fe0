"""Roster generation: a greedy fill plus local repair (see README, "Duty rosters").

Hard rules (``rules.py``) are never broken: every placement goes through ``_fits``. Soft
goals are pursued in the SPEC's order, each pass only making moves that leave the earlier
goals no worse:

1. fill: slots in order of their end (earliest-end-first fits the most intervals), each to
   the eligible member with the fewest shifts (then fewest nights, then no dislike); an
   empty slot is then repaired by freeing a member — the shifts in their way are handed to
   others, who may hand theirs on (a bounded depth-first search, rolled back on failure);
2. shift counts: hand a shift along a chain of members (found breadth-first) from a member
   at the maximum to one at least two below it, until max − min ≤ 1 or no chain exists;
3. nights: members who asked for no nights hand theirs to others; then the night counts
   of the others are levelled by moves and by swapping a night for a day shift;
4. preferences: swap a disliked shift for one of the same kind with another member.

The passes repeat until a round fills nothing and levels nothing, so the final roster has
no fillable gap and no chain that would narrow the spread.

Everything is deterministic (ties broken by member order), so the same input gives the
same roster. Slots nobody can take are reported with the reasons, never forced.
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from backend.parking.rules import (
    MIN_REST,
    OVERLAP_OR_REST,
    UNAVAILABLE,
    WEEKLY_MAX,
    Availability,
    Shift,
)

REST_S = MIN_REST.total_seconds()


@dataclass(frozen=True)
class Member:
    user_id: int
    availability: Availability = Availability()
    # Shifts already held in other published rosters: they constrain, they never move.
    fixed: tuple[Shift, ...] = ()


@dataclass
class Result:
    assigned: dict[int, int]  # slot index → user_id
    unfilled: dict[int, dict[str, int]]  # slot index → members excluded, per rule


@dataclass
class _Person:
    member: Member
    order: int
    held: list[int] = field(default_factory=list)  # slot indexes, sorted by start
    starts: list[float] = field(default_factory=list)  # fixed and held, sorted
    ends: list[float] = field(default_factory=list)
    weeks: Counter = field(default_factory=Counter)
    nights: int = 0

    @property
    def count(self) -> int:
        return len(self.held)

    @property
    def night_willing(self) -> bool:
        return not self.member.availability.no_night


class _Roster:
    def __init__(self, slots: Sequence[Shift], members: Sequence[Member]) -> None:
        self.slots = list(slots)
        self.start = [s.start.timestamp() for s in self.slots]
        self.end = [s.end.timestamp() for s in self.slots]
        self.night = [s.is_night for s in self.slots]
        self.days = [s.local_days for s in self.slots]
        self.week = [s.week for s in self.slots]
        self.people = [_Person(m, i) for i, m in enumerate(members)]
        self.owner: dict[int, _Person] = {}
        # Every give/take, so that a failed repair attempt can be rolled back exactly.
        self.journal: list[tuple[bool, int, _Person]] = []
        self.repairs_left = REPAIR_TOTAL
        for person in self.people:
            for shift in person.member.fixed:
                self._insert_interval(person, shift.start.timestamp(), shift.end.timestamp())
                person.weeks[shift.week] += 1

    # --- the hard rules, incrementally ---------------------------------------------------

    def blocked_by(self, person: _Person, i: int) -> str | None:
        """The first hard rule that keeps ``person`` off slot ``i``, or None."""
        availability = person.member.availability
        if availability.unavailable and not availability.unavailable.isdisjoint(self.days[i]):
            return UNAVAILABLE
        limit = availability.max_per_week
        if limit is not None and person.weeks[self.week[i]] >= limit:
            return WEEKLY_MAX
        # Held shifts keep the rest rule among themselves, so only the neighbours matter.
        pos = bisect.bisect_left(person.starts, self.start[i])
        for j in (pos - 1, pos):
            if 0 <= j < len(person.starts) and self.start[i] < person.ends[j] + REST_S \
                    and person.starts[j] < self.end[i] + REST_S:
                return OVERLAP_OR_REST
        return None

    def fits(self, person: _Person, i: int) -> bool:
        return self.blocked_by(person, i) is None

    def give(self, person: _Person, i: int) -> None:
        bisect.insort(person.held, i, key=lambda k: self.start[k])
        self._insert_interval(person, self.start[i], self.end[i])
        person.weeks[self.week[i]] += 1
        person.nights += self.night[i]
        self.owner[i] = person
        self.journal.append((True, i, person))

    def take(self, i: int) -> _Person:
        person = self.owner.pop(i)
        self.journal.append((False, i, person))
        person.held.remove(i)
        pos = bisect.bisect_left(person.starts, self.start[i])
        while person.ends[pos] != self.end[i]:
            pos += 1
        del person.starts[pos], person.ends[pos]
        person.weeks[self.week[i]] -= 1
        person.nights -= self.night[i]
        return person

    def undo_to(self, mark: int) -> None:
        while len(self.journal) > mark:
            gave, i, person = self.journal.pop()
            if gave:
                self.take(i)
            else:
                self.give(person, i)
            self.journal.pop()

    def _insert_interval(self, person: _Person, start: float, end: float) -> None:
        pos = bisect.bisect_right(person.starts, start)
        person.starts.insert(pos, start)
        person.ends.insert(pos, end)

    def move(self, i: int, to: _Person) -> bool:
        source = self.take(i)
        if self.fits(to, i):
            self.give(to, i)
            return True
        self.give(source, i)
        return False

    def swap(self, i: int, j: int) -> bool:
        """Exchange slots ``i`` and ``j`` between their two holders if both still fit."""
        a, b = self.owner[i], self.owner[j]
        if a is b or not (self.fits_instead(a, j, i) and self.fits_instead(b, i, j)):
            return False
        self.take(i)
        self.take(j)
        self.give(a, j)
        self.give(b, i)
        return True

    def fits_instead(self, person: _Person, i: int, gone: int) -> bool:
        """Would ``person`` fit slot ``i`` once their slot ``gone`` is taken away?"""
        availability = person.member.availability
        if availability.unavailable and not availability.unavailable.isdisjoint(self.days[i]):
            return False
        week = self.week[i]
        limit = availability.max_per_week
        if limit is not None and \
                person.weeks[week] - (self.week[gone] == week) >= limit:
            return False
        pos = bisect.bisect_left(person.starts, self.start[i])
        skipped = False
        # Without one interval, the nearest others are at most two places away.
        for j in range(max(0, pos - 2), min(len(person.starts), pos + 2)):
            if not skipped and person.starts[j] == self.start[gone] \
                    and person.ends[j] == self.end[gone]:
                skipped = True
                continue
            if self.start[i] < person.ends[j] + REST_S and person.starts[j] < self.end[i] + REST_S:
                return False
        return True


def generate(slots: Sequence[Shift], members: Sequence[Member]) -> Result:
    """Assign members to ``slots`` (one seat each) without breaking any hard rule."""
    roster = _Roster(slots, members)
    _fill(roster)
    changed = True
    # Later passes move shifts around, which may free someone for a gap or open a chain;
    # stop when a round fills nothing and levels nothing (both only ever improve).
    while changed:
        _hand_over_unwanted_nights(roster)
        _level_nights(roster)
        _honour_dislikes(roster)
        changed = _fill_gaps(roster) | _repair_unfilled(roster) | _level_counts(roster)
    assigned = {i: p.member.user_id for i, p in roster.owner.items()}
    unfilled = {i: _reasons(roster, i) for i in range(len(roster.slots)) if i not in roster.owner}
    return Result(assigned, unfilled)


def _fill(roster: _Roster) -> None:
    for i in sorted(range(len(roster.slots)), key=lambda i: (roster.end[i], roster.start[i], i)):
        _give_to_best(roster, i)


def _fill_gaps(roster: _Roster) -> bool:
    gaps = [i for i in range(len(roster.slots)) if i not in roster.owner]
    return any([_give_to_best(roster, i) for i in gaps])  # a list: try every gap


def _give_to_best(roster: _Roster, i: int) -> bool:
    candidates = [p for p in roster.people if roster.fits(p, i)]
    if candidates:
        roster.give(min(candidates, key=lambda p: _preference(roster, p, i)), i)
    return bool(candidates)


def _preference(roster: _Roster, person: _Person, i: int) -> tuple:
    night = roster.night[i]
    dislikes = person.member.availability.dislikes(roster.slots[i])
    return (person.count, night and not person.night_willing, person.nights if night else 0,
            dislikes, person.order)


def _repair_unfilled(roster: _Roster) -> bool:
    """Fill empty slots by freeing members: the shifts in their way go to others, who may
    in turn hand theirs on (a bounded depth-first search, rolled back when it fails)."""
    before = len(roster.owner)
    progress = True
    while progress:
        progress = False
        for i in [i for i in range(len(roster.slots)) if i not in roster.owner]:
            if i in roster.owner:  # filled meanwhile by a chain for another slot
                continue
            allowed = min(REPAIR_BUDGET, roster.repairs_left)
            budget = [allowed]
            if allowed > 0 and _place(roster, i, REPAIR_DEPTH, budget):
                progress = True
            roster.repairs_left -= allowed - budget[0]
    return len(roster.owner) > before


REPAIR_DEPTH = 3  # how far a chain of hand-overs may reach
REPAIR_BUDGET = 200  # attempts per empty slot: keeps infeasible inputs fast
REPAIR_TOTAL = 3_000  # attempts per roster, however many slots stay empty


def _place(roster: _Roster, i: int, depth: int, budget: list[int]) -> bool:
    by_load = sorted(roster.people, key=lambda p: (p.count, p.order))
    fitting = next((p for p in by_load if roster.fits(p, i)), None)
    if fitting is not None:
        roster.give(fitting, i)
        return True
    if depth == 0:
        return False
    for person in by_load:
        if roster.days[i] & person.member.availability.unavailable:
            continue
        for handed in _in_the_way(roster, person, i):
            if budget[0] <= 0:
                return False
            budget[0] -= 1
            mark = len(roster.journal)
            for j in handed:
                roster.take(j)
            if roster.fits(person, i):
                roster.give(person, i)
                if all(_place(roster, j, depth - 1, budget) for j in handed):
                    return True
            roster.undo_to(mark)
    return False


def _in_the_way(roster: _Roster, person: _Person, i: int) -> list[list[int]]:
    """Sets of ``person``'s shifts whose removal could let them take slot ``i``."""
    clashing = [j for j in person.held if _clash(roster, i, j)]
    if len(clashing) > 2:
        return []
    week = roster.week[i]
    same_week = [j for j in person.held if roster.week[j] == week and j not in clashing]
    return [clashing, *([*clashing, j] for j in same_week)] if clashing else \
        [[j] for j in same_week]


def _clash(roster: _Roster, i: int, j: int) -> bool:
    return roster.start[i] < roster.end[j] + REST_S and roster.start[j] < roster.end[i] + REST_S


def _level_counts(roster: _Roster) -> bool:
    """Move shifts along chains from the busiest to the least busy while that helps."""
    moved = False
    while roster.people:
        top = max(p.count for p in roster.people)
        path = _chain(roster, [p for p in roster.people if p.count == top],
                      lambda p, top=top: p.count <= top - 2)
        if path is None:
            return moved
        for slot, person in path:
            roster.take(slot)
            roster.give(person, slot)
        moved = True
    return moved


def _chain(roster: _Roster, sources: list[_Person], is_target) -> list | None:
    """Breadth-first: a list of (slot, new holder) moves from a source to a target."""
    came_from: dict[int, tuple[int, _Person] | None] = {p.order: None for p in sources}
    queue = deque(sources)
    while queue:
        giver = queue.popleft()
        for taker in sorted(roster.people, key=lambda p: (p.count, p.order)):
            if taker.order in came_from:
                continue
            slot = next((j for j in giver.held if roster.fits(taker, j)), None)
            if slot is None:
                continue
            came_from[taker.order] = (slot, giver)
            if is_target(taker):
                return _unwind(came_from, taker)
            queue.append(taker)
    return None


def _unwind(came_from, last: _Person) -> list:
    moves = []
    person = last
    while came_from[person.order] is not None:
        slot, giver = came_from[person.order]
        moves.append((slot, person))
        person = giver
    return list(reversed(moves))


def _hand_over_unwanted_nights(roster: _Roster) -> None:
    willing = sorted((p for p in roster.people if p.night_willing), key=lambda p: p.nights)
    for person in roster.people:
        if person.night_willing:
            continue
        for i in [j for j in person.held if roster.night[j]]:
            _trade_away(roster, person, i, willing)


def _trade_away(roster: _Roster, person: _Person, i: int, takers: list[_Person]) -> bool:
    """Give night ``i`` to a willing member for one of their day shifts (or outright if
    that keeps the counts within one)."""
    for taker in sorted(takers, key=lambda p: (p.nights, p.order)):
        if taker.count < person.count and roster.move(i, taker):
            return True
        for j in [j for j in taker.held if not roster.night[j]]:
            if roster.swap(i, j):
                return True
    return False


def _level_nights(roster: _Roster) -> None:
    willing = [p for p in roster.people if p.night_willing]
    improved = True
    while improved:
        improved = False
        for a in sorted(willing, key=lambda p: (-p.nights, p.order)):
            for b in sorted(willing, key=lambda p: (p.nights, p.order)):
                if a.nights - b.nights < 2:
                    break
                if _shift_a_night(roster, a, b):
                    improved = True
                    break
            if improved:
                break


def _shift_a_night(roster: _Roster, a: _Person, b: _Person) -> bool:
    nights = [i for i in a.held if roster.night[i]]
    if a.count > b.count and any(roster.move(i, b) for i in nights):
        return True
    days = [j for j in b.held if not roster.night[j]]
    return any(roster.swap(i, j) for i in nights for j in days)


def _honour_dislikes(roster: _Roster) -> None:
    for person in roster.people:
        wishes = person.member.availability
        for i in [i for i in person.held if wishes.dislikes(roster.slots[i])]:
            for other in roster.people:
                if other is person or other.member.availability.dislikes(roster.slots[i]):
                    continue
                options = [j for j in other.held if roster.night[j] == roster.night[i]
                           and not wishes.dislikes(roster.slots[j])]
                if any(roster.swap(i, j) for j in options):
                    break


def _reasons(roster: _Roster, i: int) -> dict[str, int]:
    reasons: Counter = Counter()
    for person in roster.people:
        rule = roster.blocked_by(person, i)
        if rule is not None:
            reasons[rule] += 1
    return dict(reasons)
