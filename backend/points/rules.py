"""Points rules (SPEC §6): points per hour (the activity may override the community's rate),
a daily cap per resident, whole points rounded down; and crediting approved service."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import func, select

from backend.activities.models import Activity
from backend.checkin.models import Attendance, AttendanceStatus
from backend.common.clock import LOCAL_TZ
from backend.communities.models import Community
from backend.extensions import db
from backend.notify.services import notify
from backend.points import ledger
from backend.points.models import AccountKind, TransferReason


def points_for_minutes(minutes: int, points_per_hour: int) -> int:
    return minutes * points_per_hour // 60


def credit_service(attendance: Attendance, activity: Activity, staff_id: int) -> int:
    """Credit an attendance being approved (flush only); returns the points credited.

    The resident's account is locked before the day's earlier credits are summed, so two
    approvals on the same day cannot both slip under the cap; the transfer's idempotency
    key makes a retried approval credit nothing more.
    """
    community = db.session.get(Community, activity.community_id)
    resident = ledger.account_for(community.id, AccountKind.RESIDENT, attendance.user_id)
    ledger.lock(resident.id)
    rate = (activity.points_per_hour if activity.points_per_hour is not None
            else community.points_per_hour)
    points = points_for_minutes(attendance.minutes, rate)
    if community.daily_points_cap is not None:
        room = community.daily_points_cap - _credited_on_day(attendance, activity)
        points = max(0, min(points, room))
    if points > 0:
        issued = ledger.account_for(community.id, AccountKind.ISSUED)
        ledger.transfer(issued, resident, points, TransferReason.SERVICE,
                        ref=f"attendance:{attendance.id}",
                        idempotency_key=f"service:attendance:{attendance.id}",
                        author_id=staff_id)
        notify(attendance.user_id, "points_credited",
               f"「{activity.title}」服务时长已审核，获得{points}积分",
               dedupe_key=f"points_credited:attendance:{attendance.id}",
               data={"title": activity.title, "points": points},
               page="pages/points/index")
    return points


def _credited_on_day(attendance: Attendance, activity: Activity) -> int:
    """Service points already credited for activities starting the same local day."""
    day = activity.starts_at.astimezone(LOCAL_TZ).date()
    start = datetime.combine(day, time(), LOCAL_TZ)
    return db.session.scalar(
        select(func.coalesce(func.sum(Attendance.points), 0))
        .join(Activity, Activity.id == Attendance.activity_id)
        .where(Attendance.user_id == attendance.user_id,
               Attendance.community_id == activity.community_id,
               Attendance.status == AttendanceStatus.APPROVED,
               Attendance.id != attendance.id,
               Activity.starts_at >= start,
               Activity.starts_at < start + timedelta(days=1))) or 0
