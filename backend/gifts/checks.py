"""The gifts' part of the ledger's invariants (SPEC §6): every ``redeem`` points at a
redemption."""

from __future__ import annotations

from backend.gifts.models import Redemption
from backend.points.ledger import Check, backing_check
from backend.points.models import Transfer, TransferReason


def redeem_transfers_check(community_id: int) -> Check:
    """Each ``redeem`` transfer (a reversal aside) is the one a redemption recorded."""
    return backing_check("redeem_transfers_have_redemptions", community_id,
                         TransferReason.REDEEM, Redemption,
                         Redemption.transfer_id == Transfer.id, "a redemption")
