"""flask-smorest's Api, with SPEC §2's error envelope instead of its default error body."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest import Api


class ErrorDetailSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "stable English code"})
    message = ma.fields.String(required=True, metadata={"description": "zh-CN message"})
    details = ma.fields.Dict(metadata={"description": "e.g. fields → messages for 422"})


class ErrorEnvelopeSchema(ma.Schema):
    error = ma.fields.Nested(ErrorDetailSchema, required=True)


class LinliApi(Api):
    ERROR_SCHEMA = ErrorEnvelopeSchema

    def _register_error_handlers(self) -> None:
        # Our own handlers (backend.errors) are registered by create_app.
        return None
