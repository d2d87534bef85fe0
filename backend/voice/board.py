"""The community notice board (公示, SPEC §9a): what a resident could read on the wall by
the committee's office — the last closed month's points issued and redeemed, how recently
ended activities were rated, and the needs staff answered. Aggregates and masked names
only: nothing on it says who earned, spent or rated what."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from backend.activities.models import Activity, ActivityStatus
from backend.auth.models import User
from backend.common.clock import now
from backend.communities import access
from backend.communities.models import Team
from backend.communities.services import resident_names
from backend.extensions import db
from backend.points.models import ClosedPeriod, Transfer, TransferReason
from backend.points.periods import month_bounds
from backend.voice.evaluations import summaries
from backend.voice.models import Need, NeedStatus
from backend.voice.services import require_community_reader

RECENT = timedelta(days=30)
BOARD_ROWS = 50
ISSUING = (TransferReason.SERVICE, TransferReason.DUTY)


def notice_board(actor: User, community_id: int) -> dict[str, Any]:
    require_community_reader(actor, community_id)
    return {"community_id": community_id, "points": _last_closed_month(community_id),
            "activities": _recent_activities(community_id), "needs": _answered(community_id)}


def _last_closed_month(community_id: int) -> dict[str, Any] | None:
    period = db.session.scalar(select(ClosedPeriod).where(
        ClosedPeriod.community_id == community_id)
        .order_by(ClosedPeriod.month.desc()).limit(1))
    if period is None:
        return None
    start, end = month_bounds(period.month)
    sums = dict(db.session.execute(select(Transfer.reason, func.sum(Transfer.amount)).where(
        Transfer.community_id == community_id, Transfer.created_at >= start,
        Transfer.created_at < end,
        Transfer.reason.in_([*ISSUING, TransferReason.REDEEM, TransferReason.REFUND]))
        .group_by(Transfer.reason)).all())
    issued = sum(int(sums.get(reason) or 0) for reason in ISSUING)
    redeemed = int(sums.get(TransferReason.REDEEM) or 0) - int(
        sums.get(TransferReason.REFUND) or 0)
    return {"month": f"{period.month:%Y-%m}", "issued": issued, "redeemed": redeemed}


def _recent_activities(community_id: int) -> list[dict[str, Any]]:
    current = now()
    rows = db.session.execute(select(Activity, Team.name).join(Team, Team.id == Activity.team_id)
                              .where(Activity.community_id == community_id,
                                     Activity.status == ActivityStatus.PUBLISHED,
                                     Activity.ends_at <= current,
                                     Activity.ends_at > current - RECENT)
                              .order_by(Activity.ends_at.desc(), Activity.id.desc())
                              .limit(BOARD_ROWS)).all()
    rated = summaries([activity.id for activity, _ in rows])
    return [{**rated[activity.id], "title": activity.title, "team_name": team_name,
             "ends_at": activity.ends_at} for activity, team_name in rows]


def _answered(community_id: int) -> list[dict[str, Any]]:
    rows = db.session.execute(select(Need, Team.name).outerjoin(Team, Team.id == Need.team_id)
                              .where(Need.community_id == community_id,
                                     Need.status != NeedStatus.OPEN)
                              .order_by(Need.triaged_at.desc(), Need.id.desc())
                              .limit(BOARD_ROWS)).all()
    names = resident_names([need.author_id for need, _ in rows])
    return [{"id": need.id, "title": need.title, "category": need.category,
             "status": need.status, "supporters": need.supporters, "reply": need.reply,
             "team_name": team_name, "triaged_at": need.triaged_at,
             "author": access.mask_name(names[need.author_id].real_name)
             if need.author_id in names else "居民"} for need, team_name in rows]
