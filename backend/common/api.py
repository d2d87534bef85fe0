"""flask-smorest's Api, with SPEC §2's error envelope instead of its default error body, and
the ``@refuses`` decorator that lists a view's refusal codes in its OpenAPI description."""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from http import HTTPStatus
from typing import Any, TypeVar

import marshmallow as ma
from flask_smorest import Api

from backend.refusals import Refusal, documented

F = TypeVar("F", bound=Callable[..., Any])


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


def refuses(*refusals: Refusal) -> Callable[[F], F]:
    """Document the refusals a view can answer: one response per status, its codes listed.

    What ``Blueprint.alt_response`` stores, written into the view's ``_apidoc`` directly so
    that it needs no blueprint; the outer smorest decorators carry it over (functools.wraps).
    """

    def decorate(view: F) -> F:
        apidoc = deepcopy(getattr(view, "_apidoc", {}))
        responses = apidoc.setdefault("response", {}).setdefault("responses", {})
        for status, entries in documented(*refusals).items():
            codes = "".join(f"\n- `{r.code}`: {r.message}" for r in entries)
            responses.setdefault(status, []).append({
                "schema": ErrorEnvelopeSchema,
                "description": f"{HTTPStatus(status).phrase}, with the code\n{codes}",
                "content_type": None,
            })
        view._apidoc = apidoc  # type: ignore[attr-defined]
        view._refusals = tuple(refusals)  # type: ignore[attr-defined]
        return view

    return decorate
