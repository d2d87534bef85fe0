"""Periodic duty work, run by the worker's ``maintenance_tick``: mark missed shifts (and
tell the leaders), remind members of shifts starting within two hours. Both are sweeps
that are safe to run any number of times: notices are deduplicated per shift and member."""

from __future__ import annotations

from backend.extensions import db
from backend.parking.duty import mark_missed_shifts, remind_upcoming_shifts


def duty_tick() -> dict[str, int]:
    report = {"shifts_missed": mark_missed_shifts(),
              "shift_reminders": remind_upcoming_shifts()}
    db.session.commit()
    return report
