"""Parking's part of the ledger's invariants (SPEC §6): every ``duty`` transfer points at
an approved shift."""

from __future__ import annotations

from backend.parking.models import Assignment, AssignmentStatus
from backend.points.ledger import Check, backing_check
from backend.points.models import Transfer, TransferReason


def duty_transfers_check(community_id: int) -> Check:
    """Each ``duty`` transfer (a reversal aside) is the one an approved shift recorded."""
    approved = (Assignment.transfer_id == Transfer.id) & (
        Assignment.status == AssignmentStatus.APPROVED)
    return backing_check("duty_transfers_have_approved_shifts", community_id,
                         TransferReason.DUTY, Assignment, approved, "an approved shift")
