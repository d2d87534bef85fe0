"""Sign-up, cancellation and the waitlist (SPEC §4).

Every use case locks the resident's row first and the activity's row second, always in
that order, so that concurrent sign-ups neither overbook nor deadlock: the resident lock
serialises one person's requests (repeat taps, overlapping activities). On the activity,
sign-ups share a KEY SHARE lock and count seats with one conditional UPDATE; a
cancellation takes FOR UPDATE, so it waits for the sign-ups in flight (the line is
complete when it promotes) and new ones wait for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from backend.activities.models import Activity, ActivityStatus, Signup, SignupStatus
from backend.activities.noshows import suspended_until, sweep_no_shows
from backend.activities.services import (
    can_view,
    get_managed_activity,
    get_visible_activity,
    hold_activity,
    lock_activity,
)
from backend.activities.waitlist import (
    fill_free_seats,
    give_seat,
    next_waitlist_seq,
    overlapping_confirmed,
)
from backend.auth.models import User
from backend.common.clock import LOCAL_TZ, now
from backend.common.transactions import transactional, unit_of_work
from backend.communities import access
from backend.extensions import db
from backend.refusals import (
    ACTIVITY_NOT_PUBLISHED,
    CANCEL_DEADLINE_PASSED,
    FORBIDDEN,
    NOT_FOUND,
    SIGNUP_CLOSED,
    SIGNUP_NOT_OPEN,
    SIGNUP_SUSPENDED,
    TIME_CONFLICT,
)


@dataclass(frozen=True)
class SignedUp:
    """A sign-up's answer, taken before its commit: the place it got is exact then (see
    ``sign_up``), and nothing has to be read back afterwards."""

    id: int
    status: SignupStatus
    waitlist_position: int | None
    created: bool


@transactional
def sign_up(user: User, activity_id: int) -> SignedUp:
    """Take a seat or a waitlist place.

    The resident's row is locked first, then the activity is held under a shared lock
    (``hold_activity``) that every sign-up holds at once: those who take a seat queue only
    on the seat count's UPDATE, and those who join the waitlist write nothing on the
    activity's row at all. A waitlister's place is numbered last, under the line's row
    lock: everyone before it has committed, and no promotion or cancellation (they lock the
    activity ``FOR UPDATE``) can move while we hold it, so its position is counted here.
    """
    access.lock_residency(user)  # first: the activity's lock is always taken second
    activity = hold_activity(activity_id)
    if not can_view(user, activity):
        raise NOT_FOUND.saying("找不到该活动")
    if not access.is_resident_of(user, activity.community_id):
        raise FORBIDDEN.saying("仅本社区居民可以报名")
    existing = active_signup(activity.id, user.id)
    if existing is not None:
        return _answer(existing, created=False)
    _check_signup_open(activity)
    _check_resident_may_sign_up(user, activity)
    signup = Signup(activity_id=activity.id, user_id=user.id)
    if not (activity.has_seat and give_seat(activity, signup, "signup_confirmed",
                                            f"您已成功报名「{activity.title}」")):
        # Full while we hold the activity: no seat can free before we stand in line.
        signup.put_on_waitlist(next_waitlist_seq(activity.id))
        db.session.add(signup)
        db.session.flush()
    return _answer(signup, created=True)


def _answer(signup: Signup, created: bool) -> SignedUp:
    return SignedUp(signup.id, signup.status, waitlist_position(signup), created)


def _check_signup_open(activity: Activity) -> None:
    current = now()
    if activity.status != ActivityStatus.PUBLISHED:
        raise ACTIVITY_NOT_PUBLISHED()
    if activity.signup_opens_at is not None and current < activity.signup_opens_at:
        raise SIGNUP_NOT_OPEN(details={"opens_at": _local(activity.signup_opens_at)})
    if current >= activity.effective_signup_closes_at:
        raise SIGNUP_CLOSED()


def _check_resident_may_sign_up(user: User, activity: Activity) -> None:
    until = suspended_until(user.id, activity.community_id)
    if until is not None:
        raise SIGNUP_SUSPENDED(
            until=until.astimezone(LOCAL_TZ).strftime("%Y年%m月%d日"),
            details={"suspended_until": _local(until)},
        )
    conflict = overlapping_confirmed(user.id, activity)
    if conflict is not None:
        raise TIME_CONFLICT(title=conflict.title, details={"activity_id": conflict.id})


@transactional
def cancel_signup(user: User, activity_id: int) -> Signup:
    """Give up a seat (the first waitlisted resident takes it) or a waitlist place."""
    access.lock_residency(user)
    get_visible_activity(user, activity_id)
    activity = lock_activity(activity_id)
    signup = active_signup(activity.id, user.id)
    if signup is None:
        raise NOT_FOUND.saying("您没有报名该活动")
    was_confirmed = signup.status == SignupStatus.CONFIRMED
    if was_confirmed and now() > activity.effective_cancel_deadline:
        raise CANCEL_DEADLINE_PASSED(
            details={"cancel_deadline": _local(activity.effective_cancel_deadline)},
        )
    signup.cancel()
    if was_confirmed:
        activity.confirmed_count -= 1
        fill_free_seats(activity)
    return signup


def active_signup(activity_id: int, user_id: int) -> Signup | None:
    return db.session.scalar(select(Signup).where(
        Signup.activity_id == activity_id, Signup.user_id == user_id,
        Signup.status.in_((SignupStatus.CONFIRMED, SignupStatus.WAITLISTED))))


def waitlist_position(signup: Signup) -> int | None:
    """1 for the next in line; None unless waitlisted."""
    if signup.status != SignupStatus.WAITLISTED:
        return None
    ahead = db.session.scalar(select(func.count()).where(
        Signup.activity_id == signup.activity_id, Signup.status == SignupStatus.WAITLISTED,
        Signup.waitlist_seq < signup.waitlist_seq))
    return (ahead or 0) + 1


def signups_of_activity(viewer: User, activity_id: int, status: SignupStatus | None):
    activity = get_managed_activity(viewer, activity_id)
    if activity.ends_at <= now():
        with unit_of_work():
            sweep_no_shows(activity_id=activity.id)
    query = select(Signup).where(Signup.activity_id == activity.id)
    if status is not None:
        query = query.where(Signup.status == status)
    return activity, query.order_by(Signup.id)


def my_signups(user: User, status: SignupStatus | None):
    query = select(Signup).where(Signup.user_id == user.id)
    if status is not None:
        query = query.where(Signup.status == status)
    return query.order_by(Signup.id.desc())


def my_signups_for(user: User, activity_ids: list[int]) -> dict[int, Signup]:
    """The caller's current sign-up per activity (active one first, else the latest)."""
    if not activity_ids:
        return {}
    rows = db.session.scalars(select(Signup).where(
        Signup.user_id == user.id, Signup.activity_id.in_(activity_ids)).order_by(Signup.id))
    latest: dict[int, Signup] = {}
    for row in rows:
        current = latest.get(row.activity_id)
        if current is None or not current.is_active:
            latest[row.activity_id] = row
    return latest


def _local(value: datetime) -> str:
    return value.astimezone(LOCAL_TZ).isoformat()
