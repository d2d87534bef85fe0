"""Moving residents from the waitlist to a seat, first come first served.

A resident who meanwhile holds a confirmed seat at an overlapping activity is passed over
(and told once): one person, one place at a time (SPEC §4). They keep their place in line,
so a seat that frees after they cancel the other one can still be theirs.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from backend.activities.models import (
    Activity,
    ActivityStatus,
    Signup,
    SignupStatus,
    WaitlistLine,
)
from backend.common.transactions import upsert_insert
from backend.extensions import db
from backend.notify.services import notify


def fill_free_seats(activity: Activity) -> int:
    """Promote waitlisted residents into free seats (caller holds the activity's FOR UPDATE
    lock, so every sign-up still in flight has committed and stands in line)."""
    promoted = 0
    if not activity.has_seat:
        return promoted
    waiting = db.session.scalars(
        select(Signup)
        .where(Signup.activity_id == activity.id, Signup.status == SignupStatus.WAITLISTED)
        .order_by(Signup.waitlist_seq))
    for signup in list(waiting):
        if not activity.has_seat:
            break
        conflict = overlapping_confirmed(signup.user_id, activity)
        if conflict is not None:
            _tell_passed_over(activity, signup, conflict)
            continue
        if not give_seat(activity, signup, "waitlist_promoted",
                         f"候补成功：您已确认参加「{activity.title}」"):
            break
        promoted += 1
    return promoted


def give_seat(activity: Activity, signup: Signup, template_key: str, message: str) -> bool:
    """Confirm ``signup`` into a free seat and tell the resident; False when none is left."""
    if not take_seat(activity):
        return False
    signup.confirm()
    db.session.add(signup)
    db.session.flush()
    notify(signup.user_id, template_key, message, dedupe_key=f"{template_key}:{signup.id}",
           data={"activity_id": activity.id}, page=activity.page)
    return True


def take_seat(activity: Activity) -> bool:
    """Count one more seat taken, if one is left: one conditional UPDATE, so the row's lock
    is taken only by those who take a seat, and only until they commit. Under READ
    COMMITTED a taker that waited re-reads the count before it adds one."""
    db.session.flush()  # a capacity or a cancellation the caller changed counts first
    taken = db.session.scalar(
        update(Activity)
        .where(Activity.id == activity.id, Activity.confirmed_count < Activity.capacity)
        .values(confirmed_count=Activity.confirmed_count + 1)
        .returning(Activity.confirmed_count)
        .execution_options(synchronize_session=False))
    if taken is None:
        set_committed_value(activity, "confirmed_count", activity.capacity)
        return False
    set_committed_value(activity, "confirmed_count", taken)
    return True


def next_waitlist_seq(activity_id: int) -> int:
    """The next place in the activity's line (see ``WaitlistLine``); the row stays locked
    until the caller commits, so call it last."""
    statement = upsert_insert(WaitlistLine).values(activity_id=activity_id, last_seq=1)
    return db.session.scalar(
        statement.on_conflict_do_update(
            index_elements=[WaitlistLine.activity_id],
            set_={"last_seq": WaitlistLine.last_seq + 1})
        .returning(WaitlistLine.last_seq))


def overlapping_confirmed(user_id: int, activity: Activity) -> Activity | None:
    """Another activity at the same time that the resident holds a confirmed seat for."""
    return db.session.scalar(
        select(Activity).join(Signup, Signup.activity_id == Activity.id)
        .where(Signup.user_id == user_id, Signup.status == SignupStatus.CONFIRMED,
               Activity.id != activity.id, Activity.status != ActivityStatus.CANCELLED,
               Activity.starts_at < activity.ends_at, activity.starts_at < Activity.ends_at)
        .order_by(Activity.starts_at).limit(1))


def _tell_passed_over(activity: Activity, signup: Signup, conflict: Activity) -> None:
    notify(signup.user_id, "waitlist_promoted",
           f"「{activity.title}」有空位，但与您已报名的「{conflict.title}」时间冲突，"
           "未能为您转正；取消其中一个后仍可候补",
           dedupe_key=f"waitlist_passed_over:{signup.id}:{conflict.id}",
           data={"activity_id": activity.id, "conflict_activity_id": conflict.id},
           page=activity.page)
