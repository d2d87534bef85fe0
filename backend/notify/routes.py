from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from backend.auth.services import current_user
from backend.common.api import refuses
from backend.common.pagination import PageArgsSchema, paginated
from backend.communities.access import staff_only
from backend.notify import services
from backend.notify.schemas import (
    GrantListSchema,
    NotificationSchema,
    OutboxEntrySchema,
    SubscriptionInSchema,
    TemplateListSchema,
)
from backend.refusals import (
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    NOTIFICATION_NOT_FAILED,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)

blp = Blueprint("notify", __name__, description="Notification templates and the inbox")


@blp.route("/notifications/templates", methods=["GET"])
@blp.response(200, TemplateListSchema)
@refuses(UNAUTHENTICATED)
def list_templates():
    """Template ids to pass to wx.requestSubscribeMessage."""
    current_user()
    return {"items": services.templates()}


@blp.route("/me/notifications", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@paginated(blp, NotificationSchema)
@refuses(UNAUTHENTICATED)
def my_notifications(args):
    """The in-app inbox, newest first."""
    return services.inbox(current_user())


@blp.route("/me/notifications/<id:nid>/read", methods=["POST"])
@blp.response(200, NotificationSchema)
@refuses(
    BAD_REQUEST,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def mark_read(nid):
    return services.mark_read(current_user(), nid)


@blp.route("/me/subscriptions")
class MySubscriptions(MethodView):
    @blp.response(200, GrantListSchema)
    @refuses(UNAUTHENTICATED)
    def get(self):
        """How many one-time sends of each template I have granted and not yet used."""
        return {"items": services.available_grants(current_user())}

    @blp.arguments(SubscriptionInSchema)
    @blp.response(201, GrantListSchema)
    @refuses(
        BAD_REQUEST,
        IDEMPOTENCY_KEY_REUSED,
        IDEMPOTENCY_REQUEST_IN_PROGRESS,
        UNAUTHENTICATED,
        VALIDATION_ERROR,
    )
    def post(self, data):
        """Record the template ids wx.requestSubscribeMessage accepted (one send each)."""
        user = current_user()
        ignored = services.grant_subscriptions(user, data["template_ids"])
        return {"items": services.available_grants(user), "ignored": ignored}


@blp.route("/communities/<id:cid>/notifications/failed", methods=["GET"])
@staff_only
@blp.arguments(PageArgsSchema, location="query")
@paginated(blp, OutboxEntrySchema)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def failed_notifications(args, cid):
    """Notices WeChat did not take, for staff to look at and retry."""
    return services.failed_notifications(current_user(), cid)


@blp.route("/notifications/<id:nid>/retry", methods=["POST"])
@blp.response(200, OutboxEntrySchema)
@refuses(
    BAD_REQUEST,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOTIFICATION_NOT_FAILED,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def retry_notification(nid):
    """Send a failed notice again (staff of the resident's community)."""
    return services.retry_notification(current_user(), nid)
