"""The check-in domain's part of the ledger's invariants (SPEC §6): every ``service``
transfer points at an approved attendance."""

from __future__ import annotations

from sqlalchemy import String, and_, cast, literal

from backend.checkin.models import Attendance, AttendanceStatus
from backend.points.ledger import Check, backing_check
from backend.points.models import Transfer, TransferReason


def service_transfers_check(community_id: int) -> Check:
    """Each ``service`` transfer (a reversal aside) credits an approved attendance of the
    same community, referenced as ``attendance:<id>``."""
    approved = and_(Transfer.ref == literal("attendance:") + cast(Attendance.id, String),
                    Attendance.status == AttendanceStatus.APPROVED,
                    Attendance.community_id == Transfer.community_id)
    return backing_check("service_transfers_have_approved_attendances", community_id,
                         TransferReason.SERVICE, Attendance, approved,
                         "an approved attendance")
