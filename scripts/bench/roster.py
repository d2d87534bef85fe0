"""Roster generation (SPEC §10): time to generate one month of three shifts a day for
parking teams of 10, 30 and 100 members, beside two same-run baselines — building the
month's slot list, and checking a finished roster against every hard rule.

Members get a seeded mix of days off, weekly maxima and no-night wishes, as real teams
have. Each size runs ``--repeat`` times (after one warm-up); the table shows the median and
the slowest run. Checks: no hard rule broken, every slot filled, and max − min shift
count within one; exits 1 if a check fails.

Then the hard cases: ``--tight`` seeded small, tight teams (5–15 members with caps that
leave slots no roster can fill — the teams ``tests/test_parking_oracle.py`` holds against
CP-SAT), each generated once: median and slowest time, and no hard rule broken.

    python -m scripts.bench.roster [--sizes 10,30,100] [--days 31] [--repeat 20] [--seed 7]
                                   [--tight 60]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from datetime import time as clock

from backend.parking.generator import Member, Result, generate
from backend.parking.rules import Availability, Shift, broken_rules, shift_times

THREE_SHIFTS = [("早班", clock(7), clock(15)), ("中班", clock(15), clock(23)),
                ("夜班", clock(23), clock(7))]
FIRST_DAY = date(2026, 12, 1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.roster",
                                     description="Roster generation time per team size.")
    parser.add_argument("--sizes", default="10,30,100", help="team sizes, comma-separated")
    parser.add_argument("--days", type=int, default=31, help="days in the roster")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per size")
    parser.add_argument("--seed", type=int, default=7, help="seed of the availability mix")
    parser.add_argument("--tight", type=int, default=60, help="tight teams (seeds 0..N-1)")
    args = parser.parse_args(argv)
    args.sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    if min([args.days, args.repeat, *args.sizes]) < 1 or args.tight < 0:
        parser.error("--sizes, --days and --repeat must be >= 1, --tight >= 0")
    return args


def slots_for(days: int) -> list[Shift]:
    slots = []
    for offset in range(days):
        day = FIRST_DAY + timedelta(days=offset)
        for name, start, end in THREE_SHIFTS:
            starts, ends = shift_times(day, start, end)
            slots.append(Shift(day, name, starts, ends))
    return slots


def team_of(size: int, days: int, rng: random.Random) -> list[Member]:
    """A fifth take three days off, a quarter cap their week, a sixth want no nights."""
    members = []
    for user_id in range(1, size + 1):
        off = frozenset(FIRST_DAY + timedelta(days=rng.randrange(days)) for _ in range(3)) \
            if rng.random() < 0.2 else frozenset()
        cap = rng.choice([3, 4, 5]) if rng.random() < 0.25 else None
        members.append(Member(user_id, Availability(unavailable=off, max_per_week=cap,
                                                    no_night=rng.random() < 1 / 6)))
    return members


def tight_team(seed: int, first: date = FIRST_DAY, days: int = 31) -> list[Member]:
    """5–15 members with days off, weekly caps and no-night wishes, sized so that the
    month is hard to cover: small teams with caps leave slots no roster can fill."""
    rng = random.Random(seed)
    size = rng.randint(5, 15)
    members = []
    for user_id in range(1, size + 1):
        off = frozenset(first + timedelta(days=rng.randrange(days))
                        for _ in range(rng.choice([0, 0, 1, 2, 3, 5])))
        cap = rng.choice([None, None, 2, 3, 3, 4, 5]) if size <= 8 else \
            rng.choice([None, 1, 2, 2, 3])
        members.append(Member(user_id, Availability(
            unavailable=off, max_per_week=cap, no_night=rng.random() < 0.25)))
    return members


def measure_tight(count: int, days: int) -> tuple[list[str], list[tuple[str, bool]]]:
    slots = slots_for(days)
    times, broken, unfilled = [], 0, 0
    for seed in range(count):
        members = tight_team(seed, FIRST_DAY, days)
        started = time.perf_counter()
        result = generate(slots, members)
        times.append((time.perf_counter() - started) * 1000)
        broken += check_roster(slots, members, result)
        unfilled += len(result.unfilled)
    rows = [_row(f"generate ({count} tight teams, 5–15)", times),
            f"  {count * len(slots)} slots, {unfilled} unfilled"]
    return rows, [("tight: no hard rule broken", broken == 0)]


def check_roster(slots: list[Shift], members: list[Member], result: Result) -> int:
    """Hard-rule breaks, recomputed from the assignments with ``rules.broken_rules``."""
    held: dict[int, list[Shift]] = {}
    for index, user_id in result.assigned.items():
        held.setdefault(user_id, []).append(slots[index])
    rules = {m.user_id: m.availability for m in members}
    return sum(bool(broken_rules(shift, shifts[:k] + shifts[k + 1:], rules[user]))
               for user, shifts in held.items() for k, shift in enumerate(shifts))


def timed(run: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    run()  # warm-up
    times, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = run()
        times.append((time.perf_counter() - started) * 1000)
    return times, value


def measure(size: int, args: argparse.Namespace) -> tuple[list[str], list[tuple[str, bool]]]:
    members = team_of(size, args.days, random.Random(args.seed + size))
    slot_ms, slots = timed(lambda: slots_for(args.days), args.repeat)
    generate_ms, result = timed(lambda: generate(slots, members), args.repeat)
    check_ms, broken = timed(lambda: check_roster(slots, members, result), args.repeat)
    tally = Counter(result.assigned.values())
    counts = [tally.get(m.user_id, 0) for m in members]
    spread = max(counts) - min(counts)
    rows = [_row(f"generate ({size} members)", generate_ms),
            _row("  baseline: build slot list", slot_ms),
            _row("  baseline: check hard rules", check_ms)]
    rows.append(f"  {len(slots)} slots, {len(result.unfilled)} unfilled, shifts per member "
                f"{min(counts)}–{max(counts)}; generate = "
                f"{statistics.median(generate_ms) / statistics.median(check_ms):.1f}x check")
    checks = [(f"{size}: no hard rule broken", broken == 0),
              (f"{size}: every slot filled", not result.unfilled),
              (f"{size}: max − min ≤ 1", spread <= 1)]
    return rows, checks


def _row(name: str, times: list[float]) -> str:
    return f"{name:<34}{statistics.median(times):>10.2f}{max(times):>10.2f}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"roster generation: {args.days} days x 3 shifts, {args.repeat} runs per size "
          f"(seed {args.seed}); times in ms, single process")
    print(f"{'':<34}{'median':>10}{'max':>10}")
    checks = []
    for size in args.sizes:
        rows, size_checks = measure(size, args)
        print("\n".join(rows))
        checks += size_checks
    if args.tight:
        rows, tight_checks = measure_tight(args.tight, args.days)
        print("\n".join(rows))
        checks += tight_checks
    print("checks: " + ", ".join(f"{label} {'PASS' if ok else 'FAIL'}" for label, ok in checks))
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
