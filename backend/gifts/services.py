"""The gift shelf (SPEC §7): staff put gifts on it and restock them; residents browse.

Every staff change to stock is written to the audit log in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from backend.auth.models import User
from backend.common.audit import audit
from backend.common.transactions import lock, transactional
from backend.communities.access import can_see_community, is_staff_of, require_staff
from backend.communities.services import get_community
from backend.extensions import db
from backend.gifts.models import Gift
from backend.refusals import FORBIDDEN, NOT_FOUND, STOCK_BELOW_RESERVED


@transactional
def create_gift(actor: User, community_id: int, data: dict[str, Any]) -> Gift:
    get_community(community_id)
    require_staff(actor, community_id)
    gift = Gift(community_id=community_id, reserved=0, fulfilled=0, **data)
    db.session.add(gift)
    db.session.flush()
    audit(actor.id, community_id, "gift.created", f"gift:{gift.id}", "上架礼品",
          after={"stock": gift.stock, "points_cost": gift.points_cost,
                 "per_user_limit": gift.per_user_limit})
    return gift


@transactional
def update_gift(actor: User, gift_id: int, changes: dict[str, Any]) -> Gift:
    """Restock or change a gift; stock never drops below what is reserved or handed out."""
    gift = get_gift_for(actor, gift_id)
    require_staff(actor, gift.community_id)
    gift = lock_gift(gift_id)
    if "stock" in changes and changes["stock"] < gift.reserved + gift.fulfilled:
        raise STOCK_BELOW_RESERVED(details={"reserved": gift.reserved, "fulfilled": gift.fulfilled})
    before = {field: getattr(gift, field) for field in changes}
    for field, value in changes.items():
        setattr(gift, field, value)
    audit(actor.id, gift.community_id, "gift.updated", f"gift:{gift.id}",
          "补货" if changes.get("stock", gift.stock) > before.get("stock", gift.stock)
          else "修改礼品", before=before, after=changes)
    return gift


def list_gifts(actor: User, community_id: int):
    get_community(community_id)
    if not can_see_community(actor, community_id):
        raise FORBIDDEN.saying("只能查看本社区的礼品")
    return select(Gift).where(Gift.community_id == community_id).order_by(Gift.id)


def get_gift_for(actor: User, gift_id: int) -> Gift:
    """The gift, if the actor may see its community (another community's gift: 404)."""
    gift = db.session.get(Gift, gift_id)
    if gift is None or not can_see_community(actor, gift.community_id):
        raise NOT_FOUND.saying("找不到该礼品")
    return gift


def lock_gift(gift_id: int) -> Gift:
    """The gift's row lock: first in every redemption use case (then the redemption, then
    the point accounts in id order), so they queue instead of deadlocking."""
    gift = lock(Gift, gift_id)
    if gift is None:
        raise NOT_FOUND.saying("找不到该礼品")
    return gift


def is_gift_staff(actor: User, gift: Gift) -> bool:
    return is_staff_of(actor, gift.community_id)
