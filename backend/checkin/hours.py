"""Volunteer hours under the national volunteer-record rule, as SPEC §5 states it: the time
actually served, check-in to check-out, clipped to the activity's own window (at most
``early`` before the start), in whole minutes; no check-out counts nothing."""

from __future__ import annotations

from datetime import datetime, timedelta


def served_minutes(checked_in_at: datetime | None, checked_out_at: datetime | None,
                   starts_at: datetime, ends_at: datetime, early: timedelta) -> int:
    if checked_in_at is None or checked_out_at is None:
        return 0
    start = max(checked_in_at, starts_at - early)
    end = min(checked_out_at, ends_at)
    if end <= start:
        return 0
    return int((end - start).total_seconds()) // 60
