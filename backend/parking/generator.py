"""Roster generation: a greedy fill, then chains of hand-overs (see README, "Duty rosters").

Hard rules (``rules.py``) are never broken: every placement is checked (``placement.py``).
The soft goals are pursued in the SPEC's order, each pass making only moves that leave the
earlier goals no worse:

1. fill: slots in order of their end (earliest-end-first fits the most intervals), each to
   the eligible member with the fewest shifts (then fewest nights, then no dislike); an
   empty slot is then filled by a chain of hand-overs (``handovers.py``: the member who
   takes it passes on the shift in their way, and so on), or by a bounded depth-first
   search that frees a member of two shifts at once;
2. shift counts: chains that move one shift from a member at the maximum to one at least
   two below it, or from one at least two above the minimum to a member at it;
3. night wishes: a member who asked for no nights hands each night to a member who takes
   nights, along a chain that leaves the spread of shift counts no wider, or leaves it
   empty for another empty slot nearby;
4. night counts among members who take nights: chains that move one night from the most
   to the fewest nights, the rest of the chain passing day shifts only, and trades of a
   night for an empty day slot (or of a day slot for an empty night);
5. disliked shift names are swapped for ones of the same kind.

A pass is kept only if the four goals, compared in order, are no worse after it (a pass
may trade a later goal for an earlier one, never the reverse); rounds repeat until one
improves nothing (at most ``MAX_ROUNDS``). The chain searches share a budget per roster,
so a hopeless input stays about as fast as a good one.

Everything is deterministic (ties broken by member order), so the same input gives the
same roster. Slots nobody can take are reported with the reasons, never forced.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from backend.parking.handovers import hand_over
from backend.parking.placement import REST_S, Holder, Member, Placement, Result
from backend.parking.rules import Shift

__all__ = ["Member", "Result", "generate"]

MAX_ROUNDS = 12


def generate(slots: Sequence[Shift], members: Sequence[Member]) -> Result:
    """Assign members to ``slots`` (one seat each) without breaking any hard rule."""
    roster = Placement(slots, members)
    _fill(roster)
    repairs = [REPAIR_TOTAL]
    passes = (_fill_gaps, _fill_by_chains, lambda r: _repair_unfilled(r, repairs),
              _level_counts, _hand_over_unwanted_nights, _level_nights, _honour_dislikes)
    # Later passes move shifts around, which may free someone for a gap or open a chain;
    # stop when a round improves nothing (the score only ever goes down, so this ends).
    for _ in range(MAX_ROUNDS):
        improved = [_attempt(roster, run) for run in passes]  # a list: run every pass
        # A trade kept as "no worse" may leave a slot that someone can now simply take:
        # one more round then, whose first pass takes it.
        if not any(improved) and not _has_a_taker(roster):
            break
    assigned = {i: p.member.user_id for i, p in roster.owner.items()}
    unfilled = {i: _reasons(roster, i) for i in range(len(roster.slots)) if i not in roster.owner}
    return Result(assigned, unfilled)


def _score(roster: Placement) -> tuple[int, int, int, int]:
    """The SPEC's goals in order, lower is better: empty slots, shift spread, nights of
    members who asked for none, night spread among those who take nights."""
    counts = [p.count for p in roster.people] or [0]
    night_counts = [p.nights for p in _night_takers(roster)] or [0]
    wishes = sum(p.nights for p in roster.people if not p.night_willing)
    return (len(roster.slots) - len(roster.owner), max(counts) - min(counts), wishes,
            max(night_counts) - min(night_counts))


def _attempt(roster: Placement, run: Callable[[Placement], object]) -> bool:
    """Run one pass and keep what it did unless that left the roster worse by the SPEC's
    goals in order (a pass may trade a later goal for an earlier one, never the reverse).
    True if the roster got better."""
    before, mark = _score(roster), len(roster.journal)
    run(roster)
    after = _score(roster)
    if after > before:
        roster.undo_to(mark)
    return after < before


def _night_takers(roster: Placement) -> list[Holder]:
    return [p for p in roster.people if p.night_willing] or roster.people


def _has_a_taker(roster: Placement) -> bool:
    return any(roster.fits(p, i) for i in range(len(roster.slots)) if i not in roster.owner
               for p in roster.people)


def _fill(roster: Placement) -> None:
    for i in sorted(range(len(roster.slots)), key=lambda i: (roster.end[i], roster.start[i], i)):
        _give_to_best(roster, i)


def _fill_gaps(roster: Placement) -> bool:
    gaps = [i for i in range(len(roster.slots)) if i not in roster.owner]
    return any([_give_to_best(roster, i) for i in gaps])  # a list: try every gap


def _give_to_best(roster: Placement, i: int) -> bool:
    candidates = [p for p in roster.people if roster.fits(p, i)]
    if candidates:
        roster.give(min(candidates, key=lambda p: _preference(roster, p, i)), i)
    return bool(candidates)


def _preference(roster: Placement, person: Holder, i: int) -> tuple:
    night = roster.night[i]
    dislikes = person.member.availability.dislikes(roster.slots[i])
    return (person.count, night and not person.night_willing, person.nights if night else 0,
            dislikes, person.order)


def _repair_unfilled(roster: Placement, repairs: list[int]) -> bool:
    """Fill empty slots by freeing a member of up to two shifts (the one in the way and one
    of the same week), who go to others, who may hand theirs on: a bounded depth-first
    search, rolled back when it fails. Every empty slot gets a small budget first and a
    larger one only once none of them fills, so that hopeless slots early in the month
    cannot spend what a later, fillable one needs; ``repairs`` is the roster's total."""
    before = len(roster.owner)
    for per_slot in REPAIR_BUDGETS:
        progress = True
        while progress and repairs[0] > 0:
            progress = False
            for i in _empty_slots(roster):
                if i in roster.owner:  # filled meanwhile by a chain for another slot
                    continue
                allowed = min(per_slot, repairs[0])
                budget = [allowed]
                if allowed > 0 and _place(roster, i, REPAIR_DEPTH, budget):
                    progress = True
                repairs[0] -= allowed - budget[0]
        if len(roster.owner) > before:
            break  # let the other passes work on it before searching harder
    return len(roster.owner) > before


REPAIR_DEPTH = 3  # how far a chain of hand-overs may reach
REPAIR_BUDGETS = (200, 1_000)  # attempts per empty slot, tried in turn
REPAIR_TOTAL = 10_000  # attempts per roster, however many slots stay empty


def _place(roster: Placement, i: int, depth: int, budget: list[int]) -> bool:
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


def _in_the_way(roster: Placement, person: Holder, i: int) -> list[list[int]]:
    """Sets of ``person``'s shifts whose removal could let them take slot ``i``."""
    clashing = [j for j in person.held if _clash(roster, i, j)]
    if len(clashing) > 2:
        return []
    week = roster.week[i]
    same_week = [j for j in person.held if roster.week[j] == week and j not in clashing]
    return [clashing, *([*clashing, j] for j in same_week)] if clashing else \
        [[j] for j in same_week]


def _clash(roster: Placement, i: int, j: int) -> bool:
    return roster.start[i] < roster.end[j] + REST_S and roster.start[j] < roster.end[i] + REST_S


def _empty_slots(roster: Placement) -> list[int]:
    """Empty slots someone could ever hold (no day off, no fixed shift in the way), in
    order of their end; the rest no chain can fill, so no search is spent on them."""
    empty = [i for i in range(len(roster.slots)) if i not in roster.owner]
    return sorted((i for i in empty if any(roster.could_hold(p, i) for p in roster.people)),
                  key=lambda i: (roster.end[i], roster.start[i], i))


def _fill_by_chains(roster: Placement) -> bool:
    """Fill each empty slot by a chain, first one that gives no night to a member who asked
    for none (if anyone asked), then any."""
    filled = False
    kinds = [_receivers(roster, keep_wishes=True), _receivers(roster, keep_wishes=False)]
    if all(p.night_willing for p in roster.people):
        kinds = kinds[1:]
    for i in _empty_slots(roster):
        if roster.search_left <= 0:
            break
        if i not in roster.owner and any(hand_over(roster, [(i, None)], _any_end, receive)
                                         for receive in kinds):
            filled = True
    return filled


def _any_end(person: Holder, giver: Holder | None) -> bool:
    return True


def _receivers(roster: Placement, keep_wishes: bool) -> Callable[[Holder, int, int], bool]:
    """Who may receive a slot on a chain: with ``keep_wishes``, no night goes to a member
    who asked for none."""
    if not keep_wishes:
        return lambda person, slot, depth: True
    return lambda person, slot, depth: person.night_willing or not roster.night[slot]


def _level_counts(roster: Placement) -> bool:
    """Narrow max − min: chains from the busiest down, or up to the least busy."""
    moved = False
    for keep_wishes in (True, False):
        while _narrow_counts(roster, _receivers(roster, keep_wishes)):
            moved = True
    return moved


def _narrow_counts(roster: Placement, receive) -> bool:
    counts = [p.count for p in roster.people]
    if not counts or max(counts) - min(counts) <= 1:
        return False
    top, low = max(counts), min(counts)
    busiest = [(k, p) for p in roster.people if p.count == top for k in p.held]
    if hand_over(roster, busiest, lambda e, _: e.count <= top - 2, receive):
        return True
    above = [(k, p) for p in roster.people if p.count >= low + 2 for k in p.held]
    return hand_over(roster, above, lambda e, _: e.count == low, receive)


def _spread_after(tally: Counter, giver: int, receiver: int) -> int:
    """max − min of the counts in ``tally`` once one goes from ``giver`` to ``receiver``."""
    after = tally.copy()
    after[giver] -= 1
    after[giver - 1] += 1
    after[receiver] -= 1
    after[receiver + 1] += 1
    present = [c for c, n in after.items() if n > 0]
    return max(present) - min(present)


def _no_wider(roster: Placement) -> Callable[[Holder, Holder | None], bool]:
    """A chain's end that leaves the spread of shift counts no wider than it is."""
    tally = Counter(p.count for p in roster.people)
    spread = max(tally) - min(tally)
    return lambda end, giver: giver is None or \
        _spread_after(tally, giver.count, end.count) <= spread


def _hand_over_unwanted_nights(roster: Placement) -> bool:
    """A member who asked for no nights hands each night on (to a member who takes nights,
    along a chain), or leaves it empty for another empty slot nearby that others can take
    (a night then only by a member who takes nights)."""
    moved = False
    keep_wishes = _receivers(roster, keep_wishes=True)
    for person in [p for p in roster.people if not p.night_willing]:
        for night in [j for j in person.held if roster.night[j]]:
            if hand_over(roster, [(night, person)], _no_wider(roster), keep_wishes,
                         cycles=True) or any(
                    _trade_for_empty(roster, night, keep_wishes, empty_night=kind,
                                     near_only=True) for kind in (False, True)):
                moved = True
    return moved


def _trade_for_empty(roster: Placement, held: int, receive, may_pass=None,
                     empty_night: bool = False, near_only: bool = False) -> bool:
    """Empty slot ``held`` and fill an empty slot (of the kind ``empty_night`` says;
    with ``near_only``, in its rest window or week) by a chain instead: as many slots
    filled, the spread no wider."""
    if roster.search_left <= 0:  # the roster's search budget is spent: nothing to try
        return False
    giver = roster.owner[held]
    tally = Counter(p.count for p in roster.people)
    spread, had = max(tally) - min(tally), giver.count

    def no_wider(end: Holder, _: Holder | None) -> bool:  # counts as before the trade
        return _spread_after(tally, had, had - 1 if end is giver else end.count) <= spread

    empty = [e for e in range(len(roster.slots)) if e not in roster.owner
             and roster.night[e] == empty_night and (not near_only or _near(roster, held, e))]
    if not empty:
        return False
    mark = len(roster.journal)
    roster.take(held)
    for e in empty:
        if hand_over(roster, [(e, None)], no_wider, receive, may_pass=may_pass):
            return True
    roster.undo_to(mark)
    return False


def _near(roster: Placement, i: int, j: int) -> bool:
    return _clash(roster, i, j) or roster.week[i] == roster.week[j]


def _level_nights(roster: Placement) -> bool:
    """Move one night at a time from the most nights to the fewest (among members who take
    nights); the rest of the chain passes day shifts only, so no other night count moves.
    A night of the busiest may also be left empty for an empty day slot, or an empty night
    taken by one of the fewest for a day slot left empty (as many slots filled): first in
    whichever direction is shorter, then the other, never back and forth."""
    takers = _night_takers(roster)
    moved = False
    while takers and _night_range(takers) >= 2:
        top, low = _night_range(takers, top=True), _night_range(takers, low=True)
        below_top = lambda b, top=top: b.nights <= top - 2  # noqa: E731
        at_low = lambda b, low=low: b.nights == low  # noqa: E731
        if not (_move_a_night(roster, takers, top, below_top)
                or _move_a_night(roster, [p for p in takers if p.nights >= low + 2], None,
                                 at_low) or _drop_a_night(roster, takers, top)):
            break
        moved = True
    if not takers or _night_range(takers) == 0:
        return moved
    top = _night_range(takers, top=True)
    at_top = sum(p.nights == top for p in takers)
    directions = [_drop_a_night, _add_a_night]
    if at_top > len(takers) - at_top:  # fewer to raise than to lower
        directions.reverse()
    for direction in directions:
        while _night_range(takers) > 0 and direction(
                roster, takers, _night_range(takers, top=direction is _drop_a_night,
                                             low=direction is _add_a_night)):
            moved = True
    return moved


def _night_range(takers: list[Holder], top: bool = False, low: bool = False) -> int:
    """max − min of the takers' nights (or the max, or the min)."""
    nights = [p.nights for p in takers]
    return max(nights) if top else min(nights) if low else max(nights) - min(nights)


def _drop_a_night(roster: Placement, takers: list[Holder], top: int) -> bool:
    """Leave a night of the busiest empty and fill an empty day slot by a chain instead."""
    days_only = lambda person, slot: not roster.night[slot]  # noqa: E731
    any_day = lambda person, slot, depth: not roster.night[slot]  # noqa: E731
    nights = [j for p in takers if p.nights == top for j in p.held if roster.night[j]]
    return any(_trade_for_empty(roster, j, any_day, days_only) for j in nights)


def _add_a_night(roster: Placement, takers: list[Holder], low: int) -> bool:
    """Leave a day slot empty and fill an empty night with a member at the fewest nights
    (the rest of the chain passing day shifts): as many filled, one more night to share."""
    lowest = {p.order for p in takers if p.nights == low}
    days_only = lambda person, slot: not roster.night[slot]  # noqa: E731

    def receive(person: Holder, slot: int, depth: int) -> bool:
        return person.order in lowest if depth == 1 else not roster.night[slot]

    for night in [e for e in range(len(roster.slots)) if e not in roster.owner
                  and roster.night[e]]:
        if roster.search_left <= 0:
            break
        days = [d for d in roster.owner if not roster.night[d] and _near(roster, night, d)]
        if any(_trade_for_empty(roster, d, receive, days_only, empty_night=True,
                                near_only=True) for d in days):
            return True
    return False


def _move_a_night(roster: Placement, givers: list[Holder], top: int | None,
                  takes: Callable[[Holder], bool]) -> bool:
    takers = {p.order for p in _night_takers(roster)}
    givers = [p for p in givers if top is None or p.nights == top]
    starts = [(j, p) for p in givers for j in p.held if roster.night[j]]
    days_only = lambda person, slot: not roster.night[slot]  # noqa: E731

    def receive(person: Holder, slot: int, depth: int) -> bool:
        if depth == 1:
            return person.order in takers and takes(person)
        return not roster.night[slot]

    return hand_over(roster, starts, _no_wider(roster), receive, may_pass=days_only,
                     cycles=True)


def _honour_dislikes(roster: Placement) -> None:
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


def _reasons(roster: Placement, i: int) -> dict[str, int]:
    reasons: Counter = Counter()
    for person in roster.people:
        rule = roster.blocked_by(person, i)
        if rule is not None:
            reasons[rule] += 1
    return dict(reasons)
