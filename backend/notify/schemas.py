from __future__ import annotations

import marshmallow as ma

from backend.common.clock import LocalDateTime


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
