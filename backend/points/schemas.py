from __future__ import annotations

import marshmallow as ma

from backend.common.clock import LocalDateTime
from backend.common.pagination import PageArgsSchema
from backend.common.schemas import OptionalPeriodSchema, ServedBySchema, ident, text
from backend.points.models import ReversalStatus, TransferReason


class ExpiringSchema(ma.Schema):
    amount = ma.fields.Integer(required=True)
    on = ma.fields.Date(required=True)


class PointsSummarySchema(ma.Schema):
    balance = ma.fields.Integer(required=True)
    earned_total = ma.fields.Integer(required=True)
    spent_total = ma.fields.Integer(required=True)
    expiring = ma.fields.List(ma.fields.Nested(ExpiringSchema), required=True)


class StatementEntrySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    amount = ma.fields.Integer(required=True, metadata={"description": "signed: + in, - out"})
    reason = ma.fields.Enum(TransferReason, by_value=True, required=True)
    ref = ma.fields.String(required=True)
    created_at = LocalDateTime(required=True)
    balance_after = ma.fields.Integer(required=True)


class PeriodArgsSchema(OptionalPeriodSchema):
    """From and to, local dates; the current month when not given."""


class CheckSchema(ma.Schema):
    name = ma.fields.String(required=True)
    ok = ma.fields.Boolean(required=True)
    detail = ma.fields.String(required=True)


class ClosedPeriodSchema(ma.Schema):
    community_id = ma.fields.Integer(required=True)
    period = ma.fields.Function(lambda p: f"{p.month:%Y-%m}", required=True,
                                metadata={"type": "string", "example": "2026-10"})
    transfer_count = ma.fields.Integer(required=True)
    amount_total = ma.fields.Integer(required=True)
    closed_by = ma.fields.Integer(required=True)
    closed_at = LocalDateTime(required=True)


class ReversalLineSchema(ma.Schema):
    transfer_id = ma.fields.Integer(required=True)
    reverses_id = ma.fields.Integer(required=True)
    amount = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True)


class ReconciliationSchema(ma.Schema):
    opening_total = ma.fields.Integer(required=True)
    issued = ma.fields.Integer(required=True)
    redeemed = ma.fields.Integer(required=True)
    refunded = ma.fields.Integer(required=True)
    expired = ma.fields.Integer(required=True)
    adjusted = ma.fields.Integer(required=True)
    closing_total = ma.fields.Integer(required=True)
    checks = ma.fields.List(ma.fields.Nested(CheckSchema), required=True)
    closed_periods = ma.fields.List(ma.fields.String(), required=True,
                                    metadata={"description": "closed months in the period"})
    reversals = ma.fields.List(ma.fields.Nested(ReversalLineSchema), required=True,
                               metadata={"description": "reversing transfers in the period"})
    served_by = ma.fields.Nested(ServedBySchema)  # with a replica configured


class AdjustmentInSchema(ma.Schema):
    user_id = ident(required=True)
    amount = ma.fields.Integer(strict=True, required=True, metadata={"not": {"enum": [0]}},
                               validate=[
        ma.validate.Range(min=-1_000_000, max=1_000_000),
        ma.validate.NoneOf([0], error="调整数量不能为 0")])
    reason = text(200)


class AdjustmentSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    community_id = ma.fields.Integer(required=True)
    user_id = ma.fields.Integer(required=True)
    amount = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    requested_by = ma.fields.Integer(required=True)
    approved_by = ma.fields.Integer(required=True, allow_none=True)
    transfer_id = ma.fields.Integer(required=True, allow_none=True)
    created_at = LocalDateTime(required=True)
    approved_at = LocalDateTime(required=True, allow_none=True)


class ReversalInSchema(ma.Schema):
    reason = text(200)


class ReversalSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    community_id = ma.fields.Integer(required=True)
    transfer_id = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True)
    status = ma.fields.Enum(ReversalStatus, by_value=True, required=True)
    requested_by = ma.fields.Integer(required=True)
    approved_by = ma.fields.Integer(required=True, allow_none=True)
    reversing_transfer_id = ma.fields.Integer(required=True, allow_none=True)
    created_at = LocalDateTime(required=True)
    approved_at = LocalDateTime(required=True, allow_none=True)


class ReversalListArgsSchema(PageArgsSchema):
    status = ma.fields.Enum(ReversalStatus, by_value=True)


class TransferListArgsSchema(PageArgsSchema):
    user_id = ident(strict=False)
    reason = ma.fields.Enum(TransferReason, by_value=True)


class TransferSchema(ma.Schema):
    """A ledger line as staff see it (both sides, who made it, what reversed it)."""

    id = ma.fields.Integer(required=True)
    amount = ma.fields.Integer(required=True)
    reason = ma.fields.Enum(TransferReason, by_value=True, required=True)
    ref = ma.fields.String(required=True)
    from_account_id = ma.fields.Integer(required=True)
    to_account_id = ma.fields.Integer(required=True)
    prepared_by = ma.fields.Integer(required=True, allow_none=True)
    author_id = ma.fields.Integer(required=True, allow_none=True)
    reverses_id = ma.fields.Integer(required=True, allow_none=True)
    created_at = LocalDateTime(required=True)
