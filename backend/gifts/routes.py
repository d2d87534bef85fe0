from __future__ import annotations

import io

import qrcode
from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.auth.services import current_user
from backend.common.api import refuses
from backend.common.pagination import Listing, PageArgsSchema, paginated
from backend.communities.access import staff_only
from backend.communities.services import resident_names
from backend.gifts import redemptions, services
from backend.gifts.schemas import (
    FulfilInSchema,
    GiftInSchema,
    GiftPatchSchema,
    GiftSchema,
    RedeemInSchema,
    RedemptionListArgsSchema,
    RedemptionSchema,
    StaffRedemptionSchema,
)
from backend.refusals import (
    ALREADY_CANCELLED,
    ALREADY_FULFILLED,
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    INSUFFICIENT_POINTS,
    LIMIT_EXCEEDED,
    NOT_DUE,
    NOT_FOUND,
    OUT_OF_STOCK,
    PERIOD_CLOSED,
    RESERVATION_EXPIRED,
    STOCK_BELOW_RESERVED,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)

blp = Blueprint("gifts", __name__, description="The points supermarket: gifts and redemptions")
PNG = {"type": "string", "format": "binary"}


@blp.route("/communities/<id:cid>/gifts")
class Gifts(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @paginated(blp, GiftSchema)
    @refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
    def get(self, args, cid):
        """The community's gifts with stock left (its residents and staff)."""
        return services.list_gifts(current_user(), cid)

    @staff_only
    @blp.arguments(GiftInSchema)
    @blp.response(201, GiftSchema)
    @refuses(
        BAD_REQUEST,
        FORBIDDEN,
        IDEMPOTENCY_KEY_REUSED,
        IDEMPOTENCY_REQUEST_IN_PROGRESS,
        NOT_FOUND,
        UNAUTHENTICATED,
        VALIDATION_ERROR,
    )
    def post(self, data, cid):
        """Put a gift on the shelf (staff)."""
        return services.create_gift(current_user(), cid, data)


@blp.route("/gifts/<id:gid>", methods=["PATCH"])
@blp.arguments(GiftPatchSchema, required=False)
@blp.response(200, GiftSchema)
@refuses(BAD_REQUEST, FORBIDDEN, NOT_FOUND, STOCK_BELOW_RESERVED, UNAUTHENTICATED)
def update_gift(changes, gid):
    """Restock or change a gift (staff); stock never drops below reserved + fulfilled."""
    return services.update_gift(current_user(), gid, changes)


@blp.route("/gifts/<id:gid>/redemptions", methods=["POST"])
@blp.arguments(RedeemInSchema, required=False)
@blp.response(201, RedemptionSchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    INSUFFICIENT_POINTS,
    LIMIT_EXCEEDED,
    NOT_FOUND,
    OUT_OF_STOCK,
    PERIOD_CLOSED,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def redeem(data, gid):
    """Redeem points for a gift (a resident of its community): points are taken and the
    items reserved for 7 days; show the pickup code at the counter."""
    return redemptions.redeem(current_user(), gid, data.get("quantity", 1))


@blp.route("/redemptions/fulfil", methods=["POST"])
@blp.arguments(FulfilInSchema)
@blp.response(200, RedemptionSchema)
@refuses(
    ALREADY_CANCELLED,
    ALREADY_FULFILLED,
    BAD_REQUEST,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    RESERVATION_EXPIRED,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def fulfil(data):
    """Hand a reserved gift over against its pickup code (staff of the community)."""
    return redemptions.fulfil(current_user(), data["pickup_code"])


@blp.route("/redemptions/<id:rid>/cancel", methods=["POST"])
@blp.response(200, RedemptionSchema)
@refuses(
    ALREADY_CANCELLED,
    ALREADY_FULFILLED,
    BAD_REQUEST,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    INSUFFICIENT_POINTS,
    NOT_DUE,
    NOT_FOUND,
    PERIOD_CLOSED,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def cancel(rid):
    """Cancel a reservation (the resident before pickup, or staff): points refunded."""
    return redemptions.cancel(current_user(), rid)


@blp.route("/redemptions/<id:rid>/pickup-code.png", methods=["GET"])
@blp.response(200, PNG, content_type="image/png", description="the pickup code as a QR image")
@refuses(ALREADY_CANCELLED, ALREADY_FULFILLED, NOT_FOUND, UNAUTHENTICATED)
def pickup_code_png(rid):
    """My reservation's pickup code as a QR image, for the counter's scanner."""
    redemption = redemptions.own_redemption(current_user(), rid)
    image = qrcode.make(redemption.pickup_code, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return Response(buffer.getvalue(), content_type="image/png",
                    headers={"Cache-Control": "private, no-store"})


@blp.route("/me/redemptions", methods=["GET"])
@blp.arguments(RedemptionListArgsSchema, location="query")
@paginated(blp, RedemptionSchema)
@refuses(UNAUTHENTICATED)
def my_redemptions(args):
    """My redemptions, newest first."""
    status = args.pop("status", None)
    return redemptions.my_redemptions(current_user(), status)


@blp.route("/communities/<id:cid>/redemptions", methods=["GET"])
@staff_only
@blp.arguments(RedemptionListArgsSchema, location="query")
@paginated(blp, StaffRedemptionSchema)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def community_redemptions(args, cid):
    """The community's redemptions, newest first, with who redeemed (staff)."""
    status = args.pop("status", None)

    def shape(rows):
        residents = resident_names([r.user_id for r in rows])
        return [_with_resident(r, residents.get(r.user_id)) for r in rows]

    return Listing(redemptions.community_redemptions(current_user(), cid, status), shape)


def _with_resident(redemption, resident) -> dict:
    fields = StaffRedemptionSchema().fields
    row = {name: getattr(redemption, name) for name in fields
           if name not in ("real_name", "room")}
    row["real_name"] = resident.real_name if resident else ""
    row["room"] = (f"{resident.building}-{resident.unit}-{resident.room}" if resident else "")
    return row
