"""Parking's RQ jobs, scheduled in ``backend/schedule.py``: mark missed shifts (and tell
the leaders), remind members of shifts starting within two hours. Both are sweeps that are
safe to run any number of times: notices are deduplicated per shift and member."""

from __future__ import annotations

from backend import jobs
from backend.common.transactions import unit_of_work
from backend.parking.duty import mark_missed_shifts, remind_upcoming_shifts


@jobs.job
def sweep_missed_shifts() -> int:
    with unit_of_work():
        return mark_missed_shifts()


@jobs.job
def remind_shifts() -> int:
    with unit_of_work():
        return remind_upcoming_shifts()
