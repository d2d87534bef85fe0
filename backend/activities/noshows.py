"""No-shows (SPEC §4): confirmed but never checked in when the activity ended.

Marking is a sweep that is safe to run any number of times, from anywhere: when a leader
lists an ended activity, on a schedule, and from ``flask --app backend mark-no-shows``. A
sign-up's suspension check counts the no-shows no sweep has marked yet as well, so that it
never depends on a worker having run and writes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update

from backend.activities.models import Activity, ActivityStatus, Signup, SignupStatus
from backend.common.clock import now
from backend.communities.models import Community
from backend.extensions import db

# The longest window + suspension the settings allow (3650 + 3650 days).
MAX_LOOKBACK = timedelta(days=7300)


# What makes a no-show, used by the sweep and by the suspension check alike.
def _ended() -> ColumnElement[bool]:
    return and_(Activity.ends_at <= now(), Activity.status == ActivityStatus.PUBLISHED)


def _unattended() -> ColumnElement[bool]:
    return and_(Signup.status == SignupStatus.CONFIRMED, Signup.checked_in_at.is_(None))


def sweep_no_shows(user_id: int | None = None, activity_id: int | None = None) -> int:
    """Mark ended, un-attended confirmed sign-ups as no-shows (flush only); returns count."""
    ended = select(Activity.id).where(_ended())
    if activity_id is not None:
        ended = ended.where(Activity.id == activity_id)
    statement = (update(Signup)
                 .where(_unattended(), Signup.activity_id.in_(ended))
                 .values(status=SignupStatus.NO_SHOW)
                 .execution_options(synchronize_session=False))
    if user_id is not None:
        statement = statement.where(Signup.user_id == user_id)
    return db.session.execute(statement).rowcount or 0


def suspended_until(user_id: int, community_id: int) -> datetime | None:
    """The end of the resident's current suspension, or None if they may sign up.

    ``noshow_limit`` no-shows whose activities ended within ``noshow_window_days`` of each
    other suspend sign-ups for ``suspension_days`` after the last of them.
    """
    # Most residents have no no-show at all: find that out before loading the settings.
    # The ones no sweep has marked yet count too, so that a suspension never waits for one.
    ends = list(db.session.scalars(
        select(Activity.ends_at).join(Signup, Signup.activity_id == Activity.id)
        .where(Signup.user_id == user_id, Activity.ends_at >= now() - MAX_LOOKBACK,
               or_(Signup.status == SignupStatus.NO_SHOW, and_(_unattended(), _ended())))
        .order_by(Activity.ends_at)))
    if not ends:
        return None
    community = db.session.get(Community, community_id)
    window = timedelta(days=community.noshow_window_days)
    suspension = timedelta(days=community.suspension_days)
    limit = community.noshow_limit
    ends = [end for end in ends if end >= now() - window - suspension]
    until = None
    for index in range(limit - 1, len(ends)):
        if ends[index] - ends[index - limit + 1] <= window:
            until = ends[index] + suspension
    return until if until is not None and until > now() else None
