"""The check-in domain's part of the ledger's invariants (SPEC §6): every ``service``
transfer points at an approved attendance."""

from __future__ import annotations

from sqlalchemy import String, and_, cast, literal, select

from backend.checkin.models import Attendance, AttendanceStatus
from backend.extensions import db
from backend.points.ledger import Check
from backend.points.models import Transfer, TransferReason


def service_transfers_check(community_id: int) -> Check:
    """Each ``service`` transfer (a reversal aside) credits an approved attendance of the
    same community, referenced as ``attendance:<id>``."""
    approved = and_(Transfer.ref == literal("attendance:") + cast(Attendance.id, String),
                    Attendance.status == AttendanceStatus.APPROVED,
                    Attendance.community_id == Transfer.community_id)
    orphans = list(db.session.scalars(
        select(Transfer.id).outerjoin(Attendance, approved)
        .where(Transfer.community_id == community_id,
               Transfer.reason == TransferReason.SERVICE, Transfer.reverses_id.is_(None),
               Attendance.id.is_(None)).order_by(Transfer.id).limit(10)))
    return Check("service_transfers_have_approved_attendances", not orphans,
                 f"service transfers without an approved attendance: {orphans}" if orphans
                 else "every service transfer has its approved attendance")
