"""How long raw door scans are kept (issue 19's retention).

A scan row is the door's evidence and, through its device ``scan_id``, what makes a retried
upload a no-op. Neither is needed once its activity is long over and every attendance of it
is decided: the volunteer record itself is the attendance (kept, like the ledger, for good),
and an offline upload that old is refused anyway (``LINLI_OFFLINE_UPLOAD_MAX_H``). So scans
of activities that ended more than ``LINLI_SCAN_KEEP_DAYS`` ago, with no attendance still
open or confirmed, are deleted in batches, each committed: safe to run twice or at once.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, delete, exists, select

from backend.activities.models import Activity
from backend.checkin.models import Attendance, AttendanceStatus, Scan
from backend.common.clock import now
from backend.extensions import db

SWEEP_BATCH = 5000
UNDECIDED = (AttendanceStatus.OPEN, AttendanceStatus.CONFIRMED)


def delete_old_scans() -> int:
    """Delete the scans nobody can need any more; returns how many went."""
    cutoff = now() - timedelta(days=current_app.config["SCAN_KEEP_DAYS"])
    finished = (select(Activity.id).where(
        Activity.ends_at < cutoff,
        ~exists().where(and_(Attendance.activity_id == Activity.id,
                             Attendance.status.in_(UNDECIDED)))))
    deleted = 0
    while True:
        batch = select(Scan.id).where(Scan.activity_id.in_(finished)).limit(SWEEP_BATCH)
        count = db.session.execute(
            delete(Scan).where(Scan.id.in_(batch.scalar_subquery())),
            execution_options={"synchronize_session": False}).rowcount
        db.session.commit()
        deleted += count
        if count < SWEEP_BATCH:
            return deleted
