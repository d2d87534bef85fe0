from __future__ import annotations

import marshmallow as ma

from backend.common.clock import LocalDateTime
from backend.points.models import TransferReason


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
