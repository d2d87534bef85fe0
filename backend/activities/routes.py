from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from backend.activities import services, signups
from backend.activities.schemas import (
    ActivityInSchema,
    ActivityListArgsSchema,
    ActivityPatchSchema,
    ActivitySchema,
    MySignupEntrySchema,
    MySignupSchema,
    RosterEntrySchema,
    SignupListArgsSchema,
    SignupSchema,
)
from backend.auth.services import current_user
from backend.common.api import refuses
from backend.common.pagination import Listing, paginated
from backend.communities.services import display_names
from backend.refusals import (
    ACTIVITY_CANCELLED,
    ACTIVITY_ENDED,
    ACTIVITY_NOT_DRAFT,
    ACTIVITY_NOT_PUBLISHED,
    ACTIVITY_PUBLISHED,
    ATTENDANCE_CONFIRMED,
    BAD_REQUEST,
    CANCEL_DEADLINE_PASSED,
    CAPACITY_BELOW_CONFIRMED,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    RATE_REQUIRES_STAFF,
    SIGNUP_CLOSED,
    SIGNUP_NOT_OPEN,
    SIGNUP_SUSPENDED,
    TIME_CONFLICT,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)

blp = Blueprint("activities", __name__, description="Activities and sign-ups")


@blp.route("/teams/<id:tid>/activities", methods=["POST"])
@blp.arguments(ActivityInSchema)
@blp.response(201, ActivitySchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    RATE_REQUIRES_STAFF,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def create_activity(data, tid):
    """Create a draft activity (the team's leader, or staff)."""
    return _with_my_signup(services.create_activity(current_user(), tid, data))


@blp.route("/activities", methods=["GET"])
@blp.arguments(ActivityListArgsSchema, location="query")
@paginated(blp, ActivitySchema)
@refuses(FORBIDDEN, UNAUTHENTICATED)
def list_activities(args):
    """Activities of a community (default: the caller's), soonest first."""
    viewer = current_user()
    args.setdefault("community_id", None)
    for key in ("status", "starts_from", "starts_to"):
        args.setdefault(key, None)

    def shape(rows):
        mine = signups.my_signups_for(viewer, [a.id for a in rows])
        return [_dump(a, mine.get(a.id)) for a in rows]

    return Listing(services.list_activities(viewer, **args), shape)


@blp.route("/activities/<id:aid>")
class ActivityDetail(MethodView):
    @blp.response(200, ActivitySchema)
    @refuses(NOT_FOUND, UNAUTHENTICATED)
    def get(self, aid):
        return _with_my_signup(services.get_visible_activity(current_user(), aid))

    @blp.arguments(ActivityPatchSchema, required=False)
    @blp.response(200, ActivitySchema)
    @refuses(
        ACTIVITY_CANCELLED,
        ACTIVITY_PUBLISHED,
        ATTENDANCE_CONFIRMED,
        BAD_REQUEST,
        CAPACITY_BELOW_CONFIRMED,
        FORBIDDEN,
        NOT_FOUND,
        RATE_REQUIRES_STAFF,
        UNAUTHENTICATED,
    )
    def patch(self, changes, aid):
        """Edit an activity (leader/staff); more seats promote waitlisted residents."""
        return _with_my_signup(services.update_activity(current_user(), aid, changes))


@blp.route("/activities/<id:aid>/publish", methods=["POST"])
@blp.response(200, ActivitySchema)
@refuses(
    ACTIVITY_ENDED,
    ACTIVITY_NOT_DRAFT,
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def publish(aid):
    return _with_my_signup(services.publish_activity(current_user(), aid))


@blp.route("/activities/<id:aid>/cancel", methods=["POST"])
@blp.response(200, ActivitySchema)
@refuses(
    ACTIVITY_CANCELLED,
    ACTIVITY_ENDED,
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def cancel(aid):
    """Cancel the activity; every signed-up resident is notified."""
    return _with_my_signup(services.cancel_activity(current_user(), aid))


@blp.route("/activities/<id:aid>/signups")
class ActivitySignups(MethodView):
    @blp.arguments(SignupListArgsSchema, location="query")
    @paginated(blp, RosterEntrySchema)
    @refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
    def get(self, args, aid):
        """Who signed up (the team's leader or staff; names masked for leaders)."""
        viewer = current_user()
        activity, query = signups.signups_of_activity(viewer, aid, args.pop("status", None))

        def shape(rows):
            names = display_names(viewer, activity.community_id, [s.user_id for s in rows])
            return [{**_signup(s), "display_name": names[s.user_id]} for s in rows]

        return Listing(query, shape)

    @blp.response(201, MySignupSchema)
    @blp.alt_response(200, schema=MySignupSchema, description="Already signed up")
    @refuses(
        ACTIVITY_NOT_PUBLISHED,
        BAD_REQUEST,
        FORBIDDEN,
        IDEMPOTENCY_KEY_REUSED,
        IDEMPOTENCY_REQUEST_IN_PROGRESS,
        NOT_FOUND,
        SIGNUP_CLOSED,
        SIGNUP_NOT_OPEN,
        SIGNUP_SUSPENDED,
        TIME_CONFLICT,
        UNAUTHENTICATED,
        VALIDATION_ERROR,
    )
    def post(self, aid):
        """Sign up: a seat if one is left, otherwise a place on the FIFO waitlist."""
        signed = signups.sign_up(current_user(), aid)
        return ({"id": signed.id, "status": signed.status,
                 "waitlist_position": signed.waitlist_position}, 201 if signed.created else 200)


@blp.route("/activities/<id:aid>/signups/me", methods=["DELETE"])
@blp.response(200, SignupSchema)
@refuses(ACTIVITY_CANCELLED, ACTIVITY_ENDED, CANCEL_DEADLINE_PASSED, NOT_FOUND, UNAUTHENTICATED)
def cancel_my_signup(aid):
    """Cancel my sign-up; a freed seat goes to the first waitlisted resident."""
    return _signup(signups.cancel_signup(current_user(), aid))


@blp.route("/me/signups", methods=["GET"])
@blp.arguments(SignupListArgsSchema, location="query")
@paginated(blp, MySignupEntrySchema)
@refuses(UNAUTHENTICATED)
def my_signups(args):
    return Listing(signups.my_signups(current_user(), args.pop("status", None)),
                   lambda rows: [{**_signup(s), "activity": s.activity} for s in rows])


def _signup(signup) -> dict:
    return {"id": signup.id, "status": signup.status, "activity_id": signup.activity_id,
            "user_id": signup.user_id, "created_at": signup.created_at,
            "cancelled_at": signup.cancelled_at,
            "waitlist_position": signups.waitlist_position(signup)}


# The activity's own attributes in the response; ``my_signup`` depends on the caller.
ACTIVITY_ATTRIBUTES = [name for name in ActivitySchema().fields if name != "my_signup"]


def _dump(activity, my_signup) -> dict:
    data = {field: getattr(activity, field) for field in ACTIVITY_ATTRIBUTES}
    data["my_signup"] = _signup(my_signup) if my_signup is not None else None
    return data


def _with_my_signup(activity) -> dict:
    mine = signups.my_signups_for(current_user(), [activity.id])
    return _dump(activity, mine.get(activity.id))
