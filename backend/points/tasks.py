"""The points domain's RQ job: the yearly expiry (SPEC §6), scheduled in
``backend/schedule.py``; each account is its own transaction, and a second run finds
nothing left to expire."""

from __future__ import annotations

from backend import jobs
from backend.points.expiry import expire_due_points


@jobs.job
def expire_points() -> dict[str, int]:
    return expire_due_points()
