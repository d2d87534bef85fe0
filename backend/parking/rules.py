"""The hard rules of a duty roster (SPEC §8), on real datetimes.

Pure functions over plain values, used by the generator, by swaps and by the leader's
manual edits, so that every path that puts a member on a shift asks the same questions:

- no two shifts of one member overlap, and between two of them there are at least
  ``MIN_REST`` hours (computed from the real start and end, so a night shift that ends at
  07:00 the next morning counts up to 07:00 of that morning);
- nobody works on a day they said they are unavailable: a shift touching any minute of
  that local calendar day (a night shift into the 24th touches the 24th);
- nobody has more shifts in one ISO week (Monday to Sunday, by the shift's date) than
  their weekly maximum.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from backend.common.clock import LOCAL_TZ

MIN_REST = timedelta(hours=8)
# A shift that covers any of these local hours is a night shift (for balancing nights).
NIGHT_START, NIGHT_END = time(0, 0), time(6, 0)

OVERLAP_OR_REST = "rest"
UNAVAILABLE = "unavailable"
WEEKLY_MAX = "weekly_max"

RULE_MESSAGES = {
    OVERLAP_OR_REST: "与该队员的其他班次重叠或间隔不足8小时",
    UNAVAILABLE: "该队员当天不可值班",
    WEEKLY_MAX: "超过该队员每周最多班次",
}


@dataclass(frozen=True)
class Shift:
    """One seat of one shift on one date: ``start``/``end`` are aware datetimes."""

    day: date
    name: str
    start: datetime
    end: datetime

    @property
    def week(self) -> tuple[int, int]:
        iso = self.day.isocalendar()
        return iso.year, iso.week

    @property
    def local_days(self) -> frozenset[date]:
        """The local calendar days this shift touches (an end at 00:00 touches no new day)."""
        first = self.start.astimezone(LOCAL_TZ).date()
        last = (self.end.astimezone(LOCAL_TZ) - timedelta(microseconds=1)).date()
        return frozenset(first + timedelta(days=i) for i in range((last - first).days + 1))

    @property
    def is_night(self) -> bool:
        return is_night(self.start, self.end)


@dataclass(frozen=True)
class Availability:
    unavailable: frozenset[date] = frozenset()
    max_per_week: int | None = None
    # Soft wishes: never a reason to refuse, only to prefer someone else.
    no_night: bool = False
    avoid_shifts: frozenset[str] = field(default_factory=frozenset)

    def dislikes(self, shift: Shift) -> bool:
        return (self.no_night and shift.is_night) or shift.name in self.avoid_shifts


def shift_times(day: date, start: time, end: time) -> tuple[datetime, datetime]:
    """Real start and end of a template shift on ``day`` (ending the next day if needed)."""
    starts = datetime.combine(day, start, LOCAL_TZ)
    ends_day = day if end > start else day + timedelta(days=1)
    return starts, datetime.combine(ends_day, end, LOCAL_TZ)


def is_night(start: datetime, end: datetime) -> bool:
    """Does [start, end) cover any local time between 00:00 and 06:00?"""
    local_start = start.astimezone(LOCAL_TZ)
    midnight = datetime.combine(local_start.date(), NIGHT_START, LOCAL_TZ)
    for offset in (0, 1):
        night_from = midnight + timedelta(days=offset)
        night_to = datetime.combine(night_from.date(), NIGHT_END, LOCAL_TZ)
        if start < night_to and night_from < end:
            return True
    return False


def too_close(a: Shift, b: Shift) -> bool:
    """Overlapping, or less than ``MIN_REST`` between the end of one and the start of the other."""
    return a.start < b.end + MIN_REST and b.start < a.end + MIN_REST


def broken_rules(shift: Shift, others: Iterable[Shift], availability: Availability) -> list[str]:
    """The hard rules ``shift`` would break for a member who already holds ``others``."""
    others = list(others)
    broken = []
    if any(too_close(shift, other) for other in others):
        broken.append(OVERLAP_OR_REST)
    if shift.local_days & availability.unavailable:
        broken.append(UNAVAILABLE)
    limit = availability.max_per_week
    if limit is not None and sum(1 for o in others if o.week == shift.week) >= limit:
        broken.append(WEEKLY_MAX)
    return broken
