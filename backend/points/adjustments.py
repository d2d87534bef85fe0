"""Manual point adjustments with four-eyes approval, each step in the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from backend.auth.models import User
from backend.common.clock import now
from backend.communities.access import is_resident_of, require_staff, require_staff_or_hide
from backend.communities.services import get_community, get_user
from backend.errors import ApiError, Forbidden, NotFound
from backend.extensions import db
from backend.points.ledger import account_for, transfer
from backend.points.models import (
    AccountKind,
    Adjustment,
    AdjustmentStatus,
    AuditEntry,
    TransferReason,
)


def request_adjustment(actor: User, community_id: int, user_id: int, amount: int,
                       reason: str) -> Adjustment:
    get_community(community_id)
    require_staff(actor, community_id)
    if not is_resident_of(get_user(user_id), community_id):
        raise ApiError("not_a_resident", "只能调整本社区居民的积分", details={"user_id": user_id})
    adjustment = Adjustment(community_id=community_id, user_id=user_id, amount=amount,
                            reason=reason, requested_by=actor.id)
    db.session.add(adjustment)
    db.session.flush()
    audit(actor, community_id, "adjustment.requested", f"adjustment:{adjustment.id}", reason,
          {"user_id": user_id, "amount": amount})
    db.session.commit()
    return adjustment


def approve_adjustment(actor: User, adjustment_id: int) -> Adjustment:
    """Apply it; the requester cannot approve their own (four eyes), nor twice anyone."""
    adjustment = db.session.scalar(
        select(Adjustment).where(Adjustment.id == adjustment_id).with_for_update()
        .execution_options(populate_existing=True))
    if adjustment is None:
        raise NotFound("找不到该积分调整")
    require_staff_or_hide(actor, adjustment.community_id, "找不到该积分调整")
    if adjustment.requested_by == actor.id:
        raise Forbidden("积分调整须由另一位工作人员审批", code="four_eyes_required")
    if adjustment.status != AdjustmentStatus.PENDING:
        raise ApiError("adjustment_already_applied", "该积分调整已审批")
    pool = account_for(adjustment.community_id, AccountKind.ADJUSTMENTS)
    resident = account_for(adjustment.community_id, AccountKind.RESIDENT, adjustment.user_id)
    source, target = (pool, resident) if adjustment.amount > 0 else (resident, pool)
    moved = transfer(source, target, abs(adjustment.amount), TransferReason.ADJUST,
                     f"adjustment:{adjustment.id}", f"adjustment-{adjustment.id}", actor.id)
    adjustment.status, adjustment.approved_by = AdjustmentStatus.APPLIED, actor.id
    adjustment.approved_at, adjustment.transfer_id = now(), moved.id
    audit(actor, adjustment.community_id, "adjustment.approved", f"adjustment:{adjustment.id}",
          adjustment.reason, {"transfer_id": moved.id, "amount": adjustment.amount})
    db.session.commit()
    return adjustment


def audit(actor: User, community_id: int, action: str, target: str, reason: str,
          detail: dict[str, Any]) -> None:
    """Add an audit entry to the current transaction (flush only)."""
    db.session.add(AuditEntry(community_id=community_id, actor_id=actor.id, action=action,
                              target=target, reason=reason, detail=detail))
