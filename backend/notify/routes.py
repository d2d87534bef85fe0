from __future__ import annotations

from flask_smorest import Blueprint

from backend.auth.services import current_user
from backend.common.pagination import PageArgsSchema, page_of, paginate
from backend.notify import services
from backend.notify.schemas import NotificationSchema, TemplateListSchema

blp = Blueprint("notify", __name__, description="Notification templates and the inbox")


@blp.route("/notifications/templates", methods=["GET"])
@blp.response(200, TemplateListSchema)
def list_templates():
    """Template ids to pass to wx.requestSubscribeMessage."""
    current_user()
    return {"items": services.templates()}


@blp.route("/me/notifications", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, page_of(NotificationSchema))
def my_notifications(args):
    """The in-app inbox, newest first."""
    return paginate(services.inbox(current_user()), **args)


@blp.route("/me/notifications/<id:nid>/read", methods=["POST"])
@blp.response(200, NotificationSchema)
def mark_read(nid):
    return services.mark_read(current_user(), nid)
