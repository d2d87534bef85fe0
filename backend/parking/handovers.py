"""Chains of hand-overs: the one move the generator's passes are built from.

A chain starts with a slot leaving someone (or an empty slot); each member on it receives
one slot and, unless they can simply keep it as the chain's end, passes on one of their
own — possibly the very shift that stood in the way of the one received. Every member but
the first and the last keeps their count; so a chain moves one shift from its first giver
to its last receiver, or fills an empty slot, or (ending back at the first giver) changes
who holds what with every count kept.

The search is breadth-first over (member, slot received) states, so the shortest chain
is found first, and bounded, so that hopeless questions stay cheap. A found chain is
applied only if every placement on it still keeps the hard rules; otherwise it is rolled
back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from backend.parking.placement import REST_S, Holder, Placement

CHAIN_DEPTH = 8  # members on one chain
CHAIN_STATES = 6_000  # states one search may open: a hopeless search stops there

Receive = Callable[[Holder, int, int], bool]  # (receiver, slot, depth) → allowed?
End = Callable[[Holder, Holder | None], bool]  # (last receiver, first giver) → may end?


@dataclass
class _Step:
    person: Holder
    slot: int
    parent: _Step | None
    depth: int

    def path(self) -> list[_Step]:
        steps, step = [], self
        while step is not None:
            steps.append(step)
            step = step.parent
        return steps[::-1]


def hand_over(roster: Placement, starts: list[tuple[int, Holder | None]], is_end: End,
              may_receive: Receive, may_pass: Callable[[Holder, int], bool] | None = None,
              cycles: bool = False, depth: int = CHAIN_DEPTH,
              limit: int = CHAIN_STATES) -> bool:
    """Find and apply one chain; ``starts`` are (slot, its giver or None for an empty slot).

    ``is_end(p, giver)``: may ``p`` keep what they receive and end the chain that
    ``giver`` (None: an empty slot) started; a first giver who receives a slot back always
    may: every count is then kept. ``may_receive(p, slot,
    depth)`` filters who may take which slot at which step; ``may_pass(p, slot)`` what an
    inner member may pass on. With ``cycles``, a chain may end back at its first giver.
    """
    if roster.search_left <= 0:
        return False
    chain = _search(roster, starts, is_end, may_receive, may_pass, cycles, depth,
                    min(limit, roster.search_left))
    return chain is not None and _apply(roster, chain)


def _search(roster, starts, is_end, may_receive, may_pass, cycles, depth, limit):
    seen: set[tuple[int, int]] = set()
    queue: deque[_Step] = deque()
    roots = {slot: giver for slot, giver in starts}

    def push(step: _Step) -> _Step | None:
        roster.search_left -= 1
        seen.add((step.person.order, step.slot))
        queue.append(step)
        return step if _ends_here(roster, step, roots, is_end) else None

    for slot, giver in starts:
        for person in roster.people:
            if person is not giver and (person.order, slot) not in seen \
                    and _may_take(roster, person, slot, 1, may_receive) \
                    and (found := push(_Step(person, slot, None, 1))) is not None:
                return found.path()
    while queue and len(seen) < limit:
        step = queue.popleft()
        if step.depth >= depth or roots[step.path()[0].slot] is step.person:
            continue
        on_path = {s.person.order for s in step.path()}
        root = _root(step, roots)
        for passed in _passable(roster, step, may_pass):
            for person in roster.people:
                key = (person.order, passed)
                if key in seen or person.order in on_path or (person is root and not cycles) \
                        or not _may_take(roster, person, passed, step.depth + 1, may_receive):
                    continue
                if (found := push(_Step(person, passed, step, step.depth + 1))) is not None:
                    return found.path()
    return None


def _root(step: _Step, roots: dict[int, Holder | None]) -> Holder | None:
    return roots[step.path()[0].slot]


def _may_take(roster: Placement, person: Holder, slot: int, depth: int,
              may_receive: Receive) -> bool:
    days_off = person.member.availability.unavailable
    return not (days_off and not days_off.isdisjoint(roster.days[slot])) \
        and may_receive(person, slot, depth)


def _ends_here(roster: Placement, step: _Step, roots, is_end: End) -> bool:
    first = step.path()[0].slot
    root = roots[first]
    if step.person is root:  # back at the first giver, who no longer holds the first slot
        return roster.fits_instead(root, step.slot, first)
    return is_end(step.person, root) and roster.fits(step.person, step.slot)


def _passable(roster: Placement, step: _Step, may_pass) -> list[int]:
    """Slots the receiver could pass on and still hold the slot received."""
    person, received = step.person, step.slot
    moving = {s.slot for s in step.path()}
    candidates = person.held
    if not roster.fits(person, received):
        # Only a shift too close to the one received, or one of its week, can be in the way.
        start, end, week = roster.start[received], roster.end[received], roster.week[received]
        candidates = [k for k in person.held if roster.week[k] == week or (
            start < roster.end[k] + REST_S and roster.start[k] < end + REST_S)]
        candidates = [k for k in candidates if roster.fits_instead(person, received, k)]
    return [k for k in candidates if k not in moving
            and (may_pass is None or may_pass(person, k))]


def _apply(roster: Placement, chain: list[_Step]) -> bool:
    mark = len(roster.journal)
    for step in chain:
        if step.slot in roster.owner:
            roster.take(step.slot)
    for step in chain:
        if not roster.fits(step.person, step.slot):
            roster.undo_to(mark)
            return False
        roster.give(step.person, step.slot)
    return True
