from __future__ import annotations

import marshmallow as ma

from backend.common.clock import LocalDateTime
from backend.common.schemas import text


class TemplateSchema(ma.Schema):
    key = ma.fields.String(required=True)
    template_id = ma.fields.String(required=True)
    title = ma.fields.String(required=True)


class TemplateListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(TemplateSchema), required=True)


class NotificationSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    template_key = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    body = ma.fields.String(required=True)
    data = ma.fields.Dict(required=True)
    page = ma.fields.String(required=True, allow_none=True)
    created_at = LocalDateTime(required=True)
    read_at = LocalDateTime(required=True, allow_none=True)


class SubscriptionInSchema(ma.Schema):
    template_ids = ma.fields.List(
        text(100), required=True,
        validate=ma.validate.Length(min=1, max=20))


class GrantCountSchema(ma.Schema):
    key = ma.fields.String(required=True)
    template_id = ma.fields.String(required=True)
    available = ma.fields.Integer(required=True)


class GrantListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(GrantCountSchema), required=True)
    ignored = ma.fields.List(ma.fields.String(), metadata={
        "description": "template ids that are not Linli's (nothing recorded for them)"})


class OutboxEntrySchema(NotificationSchema):
    user_id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    attempts = ma.fields.Integer(required=True)
    last_error = ma.fields.String(required=True, allow_none=True)
    sent_at = LocalDateTime(required=True, allow_none=True)
