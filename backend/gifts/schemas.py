from __future__ import annotations

import marshmallow as ma

from backend.common.clock import LocalDateTime
from backend.common.pagination import PageArgsSchema
from backend.common.schemas import text
from backend.gifts.models import RedemptionStatus


def _count(maximum: int, **kwargs) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=maximum),
                             **kwargs)


class GiftInSchema(ma.Schema):
    name = text(100)
    description = text(1000, False, multiline=True, allow_blank=True, load_default="")
    points_cost = _count(1_000_000, required=True)
    stock = ma.fields.Integer(strict=True, required=True,
                              validate=ma.validate.Range(min=0, max=1_000_000))
    per_user_limit = _count(10_000, load_default=None, allow_none=True,
                            metadata={"description": "items per resident; null: no limit"})


class GiftPatchSchema(ma.Schema):
    name = text(100, required=False)
    description = text(1000, False, multiline=True, allow_blank=True)
    points_cost = _count(1_000_000)
    stock = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=0, max=1_000_000),
                              metadata={"description": "total on the shelf; never below "
                                        "reserved + fulfilled"})
    per_user_limit = _count(10_000, allow_none=True)


class GiftSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    community_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    points_cost = ma.fields.Integer(required=True)
    stock = ma.fields.Integer(required=True)
    reserved = ma.fields.Integer(required=True)
    fulfilled = ma.fields.Integer(required=True)
    stock_left = ma.fields.Integer(required=True)
    per_user_limit = ma.fields.Integer(required=True, allow_none=True)
    created_at = LocalDateTime(required=True)


class RedeemInSchema(ma.Schema):
    quantity = _count(1000, load_default=1)


class FulfilInSchema(ma.Schema):
    pickup_code = text(16)


class RedemptionListArgsSchema(PageArgsSchema):
    status = ma.fields.Enum(RedemptionStatus, by_value=True)


class RedemptionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    community_id = ma.fields.Integer(required=True)
    gift_id = ma.fields.Integer(required=True)
    user_id = ma.fields.Integer(required=True)
    quantity = ma.fields.Integer(required=True)
    points = ma.fields.Integer(required=True)
    status = ma.fields.Enum(RedemptionStatus, by_value=True, required=True)
    pickup_code = ma.fields.String(required=True)
    expires_at = LocalDateTime(required=True)
    created_at = LocalDateTime(required=True)
    fulfilled_at = LocalDateTime(required=True, allow_none=True)
    cancelled_at = LocalDateTime(required=True, allow_none=True)
    cancel_reason = ma.fields.String(required=True, allow_none=True)


class StaffRedemptionSchema(RedemptionSchema):
    """What staff see at the counter: the resident's name and address in full."""

    real_name = ma.fields.String(required=True)
    room = ma.fields.String(required=True)
