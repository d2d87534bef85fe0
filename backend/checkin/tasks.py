"""The check-in domain's RQ jobs: the no-show sweep (SPEC §4) and the retention of old
scans, scheduled in ``backend/schedule.py``; each safe to run any number of times."""

from __future__ import annotations

from backend import jobs
from backend.checkin import retention
from backend.checkin.attendance import record_no_shows
from backend.common.transactions import unit_of_work


@jobs.job
def sweep_no_shows() -> int:
    """Mark confirmed residents who never came to an ended activity; returns how many."""
    with unit_of_work():
        return record_no_shows()


@jobs.job
def sweep_old_scans() -> int:
    """Scans of long-finished activities (``LINLI_SCAN_KEEP_DAYS``) go; returns how many."""
    return retention.delete_old_scans()
