"""Who holds which slot while a roster is generated: the slots, each member's shifts, and
the hard rules (``rules.py``) checked incrementally, with a journal so that any attempt can
be rolled back exactly. Pure; used by ``generator.py`` and ``handovers.py``."""

from __future__ import annotations

import bisect
from collections import Counter
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
SEARCH_TOTAL = 20_000


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
class Holder:
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


class Placement:
    def __init__(self, slots: Sequence[Shift], members: Sequence[Member]) -> None:
        self.slots = list(slots)
        self.start = [s.start.timestamp() for s in self.slots]
        self.end = [s.end.timestamp() for s in self.slots]
        self.night = [s.is_night for s in self.slots]
        self.days = [s.local_days for s in self.slots]
        self.week = [s.week for s in self.slots]
        self.people = [Holder(m, i) for i, m in enumerate(members)]
        self.owner: dict[int, Holder] = {}
        # Every give/take, so that a failed repair attempt can be rolled back exactly.
        self.journal: list[tuple[bool, int, Holder]] = []
        # States the chain searches (handovers.py) may still open in this roster: keeps a
        # hopeless input as fast as a good one.
        self.search_left = SEARCH_TOTAL
        for person in self.people:
            for shift in person.member.fixed:
                self._insert_interval(person, shift.start.timestamp(), shift.end.timestamp())
                person.weeks[shift.week] += 1

    # --- the hard rules, incrementally ---------------------------------------------------

    def blocked_by(self, person: Holder, i: int) -> str | None:
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

    def could_hold(self, person: Holder, i: int) -> bool:
        """Could ``person`` hold slot ``i`` in some roster: no day off, no fixed shift
        (published elsewhere) too close, no week already full of fixed shifts?"""
        availability = person.member.availability
        if availability.unavailable and not availability.unavailable.isdisjoint(self.days[i]):
            return False
        fixed = person.member.fixed
        limit = availability.max_per_week
        if limit is not None and sum(f.week == self.week[i] for f in fixed) >= limit:
            return False
        return not any(self.start[i] < f.end.timestamp() + REST_S
                       and f.start.timestamp() < self.end[i] + REST_S for f in fixed)

    def fits(self, person: Holder, i: int) -> bool:
        return self.blocked_by(person, i) is None

    def give(self, person: Holder, i: int) -> None:
        bisect.insort(person.held, i, key=lambda k: self.start[k])
        self._insert_interval(person, self.start[i], self.end[i])
        person.weeks[self.week[i]] += 1
        person.nights += self.night[i]
        self.owner[i] = person
        self.journal.append((True, i, person))

    def take(self, i: int) -> Holder:
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

    def _insert_interval(self, person: Holder, start: float, end: float) -> None:
        pos = bisect.bisect_right(person.starts, start)
        person.starts.insert(pos, start)
        person.ends.insert(pos, end)

    def move(self, i: int, to: Holder) -> bool:
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

    def fits_instead(self, person: Holder, i: int, gone: int) -> bool:
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
