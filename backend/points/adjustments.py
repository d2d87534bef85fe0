"""Manual point adjustments with four-eyes approval, each step in the audit log.

Two staff members stand behind every adjustment (SPEC §3): one requests it, another
applies it, and neither may be the resident whose points it changes."""

from __future__ import annotations

from backend.auth.models import User
from backend.common.audit import audit
from backend.common.transactions import lock, transactional
from backend.communities.access import is_resident_of, require_staff, require_staff_or_hide
from backend.communities.services import get_community, get_user
from backend.extensions import db
from backend.points.credits import require_two_people
from backend.points.ledger import account_for, transfer
from backend.points.models import AccountKind, Adjustment, TransferReason
from backend.refusals import FOUR_EYES_REQUIRED, NOT_A_RESIDENT, NOT_FOUND


@transactional
def request_adjustment(actor: User, community_id: int, user_id: int, amount: int,
                       reason: str) -> Adjustment:
    get_community(community_id)
    require_staff(actor, community_id)
    if not is_resident_of(get_user(user_id), community_id):
        raise NOT_A_RESIDENT.saying("只能调整本社区居民的积分", details={"user_id": user_id})
    if user_id == actor.id:
        raise FOUR_EYES_REQUIRED.saying("不能为自己申请积分调整，请由其他工作人员办理")
    adjustment = Adjustment(community_id=community_id, user_id=user_id, amount=amount,
                            reason=reason, requested_by=actor.id)
    db.session.add(adjustment)
    db.session.flush()
    audit(actor.id, community_id, "adjustment.requested", f"adjustment:{adjustment.id}",
          reason, after={"user_id": user_id, "amount": amount, "status": "pending"})
    return adjustment


@transactional
def approve_adjustment(actor: User, adjustment_id: int) -> Adjustment:
    """Apply it; the requester cannot approve their own (four eyes), nor twice anyone."""
    adjustment = lock(Adjustment, adjustment_id)
    if adjustment is None:
        raise NOT_FOUND.saying("找不到该积分调整")
    require_staff_or_hide(actor, adjustment.community_id, "找不到该积分调整")
    require_two_people(adjustment.user_id, adjustment.requested_by, actor.id)
    adjustment.require_pending()
    pool = account_for(adjustment.community_id, AccountKind.ADJUSTMENTS)
    resident = account_for(adjustment.community_id, AccountKind.RESIDENT, adjustment.user_id)
    source, target = (pool, resident) if adjustment.amount > 0 else (resident, pool)
    moved = transfer(source, target, abs(adjustment.amount), TransferReason.ADJUST,
                     f"adjustment:{adjustment.id}", f"adjustment-{adjustment.id}", actor.id,
                     prepared_by=adjustment.requested_by)
    adjustment.apply(actor.id, moved.id)
    audit(actor.id, adjustment.community_id, "adjustment.approved",
          f"adjustment:{adjustment.id}", adjustment.reason, before={"status": "pending"},
          after={"status": "applied", "transfer_id": moved.id, "amount": adjustment.amount})
    return adjustment
