"""Moving residents from the waitlist to a seat, first come first served.

A resident who meanwhile holds a confirmed seat at an overlapping activity is passed over
(and told once): one person, one place at a time (SPEC §4). They keep their place in line,
so a seat that frees after they cancel the other one can still be theirs.
"""

from __future__ import annotations

from sqlalchemy import select

from backend.activities.models import Activity, ActivityStatus, Signup, SignupStatus
from backend.extensions import db
from backend.notify.services import notify


def fill_free_seats(activity: Activity) -> int:
    """Promote waitlisted residents into free seats (caller holds the activity lock)."""
    promoted = 0
    if not (activity.has_seat and activity.waitlist_count > 0):
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
        activity.waitlist_count -= 1
        give_seat(activity, signup, "waitlist_promoted",
                  f"候补成功：您已确认参加「{activity.title}」")
        promoted += 1
    return promoted


def give_seat(activity: Activity, signup: Signup, template_key: str, message: str) -> None:
    """Confirm ``signup`` into a free seat and tell the resident (caller holds the lock)."""
    signup.confirm()
    activity.confirmed_count += 1
    db.session.flush()
    notify(signup.user_id, template_key, message, dedupe_key=f"{template_key}:{signup.id}",
           data={"activity_id": activity.id}, page=activity.page)


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
