"""An independent checker of SPEC §8's hard rules, written from the SPEC's words and not
from ``backend.parking`` (it imports nothing from it), so that the generator is judged by
something that does not share its mistakes.

A shift here is a plain dict: ``user_id``, ``date`` (the local date it starts on),
``start`` and ``end`` (aware datetimes). It recomputes everything pairwise, naively.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
REST = timedelta(hours=8)


def days_touched(start: datetime, end: datetime) -> set[date]:
    """Every local calendar day with at least one minute of [start, end)."""
    days, moment = set(), start.astimezone(SHANGHAI)
    stop = end.astimezone(SHANGHAI)
    while moment < stop:
        days.add(moment.date())
        moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return days


def pair_ok(a: dict, b: dict) -> bool:
    """Not overlapping, and at least eight hours from the end of the earlier one to the
    start of the later one."""
    first, second = sorted((a, b), key=lambda s: s["start"])
    return second["start"] - first["end"] >= REST


def violations(shifts: list[dict], availability: dict[int, dict]) -> list[str]:
    """Every broken hard rule, described. ``availability[user] = {"unavailable": set of
    dates, "max_per_week": int | None}``."""
    problems = []
    by_user: dict[int, list[dict]] = defaultdict(list)
    for shift in shifts:
        by_user[shift["user_id"]].append(shift)
    for user, held in by_user.items():
        rules = availability.get(user, {})
        for i, a in enumerate(held):
            for b in held[i + 1:]:
                if not pair_ok(a, b):
                    problems.append(f"user {user}: {a['start']} and {b['start']} too close")
            hit = days_touched(a["start"], a["end"]) & set(rules.get("unavailable", ()))
            if hit:
                problems.append(f"user {user}: {a['start']} on unavailable {sorted(hit)}")
        weeks: dict[tuple[int, int], int] = defaultdict(int)
        for shift in held:
            weeks[tuple(shift["date"].isocalendar())[:2]] += 1
        limit = rules.get("max_per_week")
        for week, count in weeks.items():
            if limit is not None and count > limit:
                problems.append(f"user {user}: {count} shifts in week {week} > {limit}")
    return problems


def could_take(user: int, shift: dict, shifts: list[dict], availability: dict[int, dict],
               ignoring: dict | None = None) -> bool:
    """Could ``user`` also hold ``shift`` (optionally after giving up ``ignoring``)?"""
    mine = [s for s in shifts if s["user_id"] == user and s is not ignoring]
    mine.append({**shift, "user_id": user})
    return not violations(mine, {user: availability.get(user, {})})
