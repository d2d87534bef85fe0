"""The street overview (SPEC §9a): for admins, one row per community over a period.

The page of communities is chosen first; each figure is then one grouped query over the
communities of that page (``community_id IN (…)``), so a page costs six queries whatever
its size. The indexes those queries use are listed in ``STREET_INDEXES`` below and created
by migration 0011; docs/voice.md says why each exists.

Definitions (the period is [from 00:00, the day after to 00:00) community time):
- residents: residents on record who joined before the period's end;
- activities held: published activities that started in the period and have ended;
- active volunteers, volunteer hours: distinct residents with approved hours (more than
  0 minutes) at those activities, and the sum of those approved minutes in hours;
- points issued: service and duty credits dated in the period, less their reversals;
- points redeemed: points spent on gifts in the period, less refunds and reversals;
- open needs: needs still open that were raised before the period's end.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Index, Select, case, distinct, func, select

from backend.activities.models import Activity
from backend.auth.models import User
from backend.checkin.models import Attendance, AttendanceStatus
from backend.common.clock import local_midnight
from backend.common.pagination import paginate
from backend.common.replica import report_reads
from backend.communities.access import require_admin
from backend.communities.models import Community, Resident
from backend.extensions import db
from backend.points.models import Transfer, TransferReason
from backend.voice.assessment import held_activities
from backend.voice.models import Need, NeedStatus

FIGURES = ("residents", "active_volunteers", "activities_held", "volunteer_hours",
           "points_issued", "points_redeemed", "open_needs")

# Read indexes for the street's queries, declared here beside the queries that need them
# (and created by migration 0011) so the models and the migrated schema agree.
STREET_INDEXES = (
    # Attendances of a page's activities: status and minutes without visiting the table.
    Index("ix_attendances_activity_status_minutes", Attendance.activity_id,
          Attendance.status, Attendance.minutes, Attendance.user_id),
    # Residents on record before a date, per community: an index-only count.
    Index("ix_residents_community_joined", Resident.community_id, Resident.joined_at),
)


@report_reads  # one snapshot on the replica when it keeps up
def street_overview(actor: User, first_day: date, last_day: date, page: int,
                    per_page: int) -> dict[str, Any]:
    require_admin(actor)
    start, end = local_midnight(first_day), local_midnight(last_day, next_day=True)
    result = paginate(select(Community).order_by(Community.id), page, per_page)
    communities = result["items"]
    figures = community_figures([community.id for community in communities], start, end)
    result["items"] = [{"community_id": community.id, "name": community.name,
                        "street": community.street, **figures[community.id]}
                       for community in communities]
    return {**result, "first_day": first_day, "last_day": last_day}


def community_figures(community_ids: list[int], start: datetime,
                      end: datetime) -> dict[int, dict[str, Any]]:
    """The overview's figures per community id (zeros where nothing happened)."""
    figures = {cid: dict.fromkeys(FIGURES, 0) for cid in community_ids}
    if not community_ids:
        return figures
    held = (held_activities(start, end)
            .where(Activity.community_id.in_(community_ids)).subquery())
    for query in (_residents(community_ids, end), _activities(held), _service(held),
                  points_moved(community_ids, start, end), _open_needs(community_ids, end)):
        for row in db.session.execute(query).mappings():
            figures[row["community_id"]].update(
                {key: value or 0 for key, value in row.items() if key != "community_id"})
    for row in figures.values():
        row["volunteer_hours"] = round(row.pop("minutes", 0) / 60, 1)
    return figures


def _residents(community_ids: list[int], end: datetime) -> Select:
    return (select(Resident.community_id, func.count().label("residents"))
            .where(Resident.community_id.in_(community_ids), Resident.joined_at < end)
            .group_by(Resident.community_id))


def _activities(held) -> Select:
    return (select(held.c.community_id, func.count().label("activities_held"))
            .group_by(held.c.community_id))


def _service(held) -> Select:
    served = (Attendance.status == AttendanceStatus.APPROVED) & (Attendance.minutes > 0)
    return (select(held.c.community_id,
                   func.count(distinct(Attendance.user_id)).label("active_volunteers"),
                   func.sum(Attendance.minutes).label("minutes"))
            .join(held, held.c.id == Attendance.activity_id)
            .where(served)
            .group_by(held.c.community_id))


def points_moved(community_ids: list[int], start: datetime, end: datetime) -> Select:
    """Points issued and redeemed per community in [start, end): the overview's and the
    notice board's one definition."""
    # A reversal keeps its original's reason and moves the other way.
    sign = case((Transfer.reverses_id.is_(None), 1), else_=-1)
    minted = Transfer.reason.in_((TransferReason.SERVICE, TransferReason.DUTY))
    spent = case((Transfer.reason == TransferReason.REDEEM, 1),
                 (Transfer.reason == TransferReason.REFUND, -1), else_=0)
    return (select(Transfer.community_id,
                   func.sum(case((minted, sign * Transfer.amount), else_=0))
                   .label("points_issued"),
                   func.sum(spent * sign * Transfer.amount).label("points_redeemed"))
            .where(Transfer.community_id.in_(community_ids),
                   Transfer.created_at >= start, Transfer.created_at < end)
            .group_by(Transfer.community_id))


def _open_needs(community_ids: list[int], end: datetime) -> Select:
    return (select(Need.community_id, func.count().label("open_needs"))
            .where(Need.community_id.in_(community_ids), Need.status == NeedStatus.OPEN,
                   Need.created_at < end)
            .group_by(Need.community_id))
