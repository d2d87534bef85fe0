"""The check-in domain's RQ job: the no-show sweep (SPEC §4), scheduled in
``backend/schedule.py``; safe to run any number of times."""

from __future__ import annotations

from backend import jobs
from backend.checkin.attendance import record_no_shows
from backend.common.transactions import unit_of_work


@jobs.job
def sweep_no_shows() -> int:
    """Mark confirmed residents who never came to an ended activity; returns how many."""
    with unit_of_work():
        return record_no_shows()
