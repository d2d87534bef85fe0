"""Field helpers shared by the domains' schemas."""

from __future__ import annotations

import marshmallow as ma


def text(max_length: int, required: bool = True, **kwargs) -> ma.fields.String:
    """A trimmed, non-empty string of at most ``max_length`` characters."""
    return TrimmedString(required=required, validate=[
        ma.validate.Length(min=1, max=max_length),
        # Described in OpenAPI as a pattern, so "only spaces" is invalid in the docs too.
        ma.validate.Regexp(r"^\s*\S", error="不能为空")], **kwargs)


def ident(strict: bool = True, **kwargs) -> ma.fields.Integer:
    """A row id; ``strict=False`` for query strings, where every value is text."""
    return ma.fields.Integer(strict=strict, validate=ma.validate.Range(min=1, max=2**31 - 1),
                             **kwargs)


class StrictBoolean(ma.fields.Boolean):
    """true or false only: 0, 1, "yes" are not booleans in the OpenAPI description either.

    (Truthy/falsy sets cannot say this: 0 == False, so ``0 in {False}``.)"""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class TrimmedString(ma.fields.String):
    """Validated as sent (so the OpenAPI limits mean what they say), stored trimmed."""

    def deserialize(self, value, attr=None, data=None, **kwargs):
        output = super().deserialize(value, attr, data, **kwargs)
        return output.strip() if isinstance(output, str) else output


class DateRangeSchema(ma.Schema):
    """``from`` and ``to`` as local dates, ``to`` not before ``from``."""

    first_day = ma.fields.Date(required=True, data_key="from")
    last_day = ma.fields.Date(required=True, data_key="to")

    @ma.validates_schema
    def check_order(self, data, **kwargs):
        if data["last_day"] < data["first_day"]:
            raise ma.ValidationError({"to": ["结束日期不能早于开始日期"]})
