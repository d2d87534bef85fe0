"""Moving residents from the waitlist to a seat, first come first served."""

from __future__ import annotations

from sqlalchemy import select

from backend.activities.models import Activity, Signup, SignupStatus
from backend.extensions import db
from backend.notify.services import notify


def fill_free_seats(activity: Activity) -> int:
    """Promote waitlisted residents into free seats (caller holds the activity lock)."""
    promoted = 0
    while activity.has_seat and activity.waitlist_count > 0:
        first = db.session.scalar(
            select(Signup)
            .where(Signup.activity_id == activity.id, Signup.status == SignupStatus.WAITLISTED)
            .order_by(Signup.waitlist_seq).limit(1))
        if first is None:
            break
        activity.waitlist_count -= 1
        give_seat(activity, first, "waitlist_promoted",
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
