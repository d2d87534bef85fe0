"""The gifts' part of the ledger's invariants (SPEC §6): every ``redeem`` points at a
redemption."""

from __future__ import annotations

from sqlalchemy import select

from backend.extensions import db
from backend.gifts.models import Redemption
from backend.points.ledger import Check
from backend.points.models import Transfer, TransferReason


def redeem_transfers_check(community_id: int) -> Check:
    """Each ``redeem`` transfer (a reversal aside) is the one a redemption recorded."""
    orphans = list(db.session.scalars(
        select(Transfer.id).outerjoin(Redemption, Redemption.transfer_id == Transfer.id)
        .where(Transfer.community_id == community_id,
               Transfer.reason == TransferReason.REDEEM, Transfer.reverses_id.is_(None),
               Redemption.id.is_(None)).order_by(Transfer.id).limit(10)))
    return Check("redeem_transfers_have_redemptions", not orphans,
                 f"redeem transfers without a redemption: {orphans}" if orphans
                 else "every redeem has its redemption")
