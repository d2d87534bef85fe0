"""Seeding points straight into the ledger, as approved service would have credited them:
from the community's ``issued`` account, with the two people every minted point needs
(SPEC §3) on record."""

from __future__ import annotations

from sqlalchemy import select

from backend.auth.models import User
from backend.extensions import db
from backend.points.ledger import account_for, transfer
from backend.points.models import AccountKind, Transfer, TransferReason


def signatories() -> tuple[int, int]:
    """Two users who stand behind seeded points (created once; call in an app context)."""
    ids = []
    for openid in ("o-seed-confirmer", "o-seed-approver"):
        user_id = db.session.scalar(select(User.id).where(User.openid == openid))
        if user_id is None:
            user = User(openid=openid, nickname=openid)
            db.session.add(user)
            db.session.flush()
            user_id = user.id
        ids.append(user_id)
    return ids[0], ids[1]


def seed_points(community_id: int, user_id: int, amount: int, key: str,
                reason: TransferReason = TransferReason.SERVICE,
                ref: str = "attendance:seed") -> Transfer:
    """Credit ``amount`` (flush only; the caller commits)."""
    confirmer, approver = signatories()
    return transfer(account_for(community_id, AccountKind.ISSUED),
                    account_for(community_id, AccountKind.RESIDENT, user_id), amount, reason,
                    ref, key, author_id=approver, prepared_by=confirmer)


def signed() -> dict[str, int]:
    """The two people to put on a minted transfer: ``transfer(..., **signed())``."""
    confirmer, approver = signatories()
    return {"prepared_by": confirmer, "author_id": approver}
