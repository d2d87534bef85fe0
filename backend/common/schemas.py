"""Field helpers shared by the domains' schemas, and the one input policy for text.

Every text a client sends goes through ``TrimmedString`` (usually via ``text()``): bounded in
length, and refusing what no name, title or reason ever needs and what breaks the places
text travels to — NUL (PostgreSQL refuses it), other C0/C1 control characters (openpyxl
refuses them; they hide in names), lone surrogates (not encodable as UTF-8), bidi override
controls (they make a name read as another), and, outside multi-line fields, line breaks.
Integers carry a ``Range`` and dates stay within ``MIN_YEAR``–``MAX_YEAR``, so no value
overflows a column or the calendar.
"""

from __future__ import annotations

import re

import marshmallow as ma

from backend.common.clock import (
    MAX_YEAR,
    MIN_YEAR,
    YEARS_PATTERN,
    YEARS_REFUSED,
    month_bounds,
    today,
)

# Written as regex escapes: the same text is the OpenAPI pattern. Lone surrogates are left
# out of the pattern (JSON text cannot hold one, and regex engines read the range as the
# halves of every emoji) but refused all the same.
_NEVER = (r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
          r"\ufeff\ufffe\uffff")
_SURROGATES = r"\ud800-\udfff"
_LINE_BREAKS = r"\t\n\r\u2028\u2029"
TEXT_REFUSED = "不能包含控制字符、换行或无法显示的字符"
MULTILINE_REFUSED = "不能包含控制字符或无法显示的字符"


class TextPolicy(ma.validate.Validator):
    """The text rules above as one validator. ``regex`` is what the OpenAPI description shows
    (apispec reads it as the field's ``pattern``); the check itself is a linear search, so an
    over-long string costs nothing beyond the ``Length`` refusal."""

    def __init__(self, max_length: int, multiline: bool = False,
                 allow_blank: bool = False) -> None:
        self.max_length = max_length
        self.allow_blank = allow_blank
        refused = _NEVER if multiline else _NEVER + _LINE_BREAKS
        self.message = MULTILINE_REFUSED if multiline else TEXT_REFUSED
        self.refused = re.compile(f"[{refused}{_SURROGATES}]")
        self.regex = re.compile(f"^[^{refused}]*$" if allow_blank
                                else rf"^[^{refused}]*[^\s{refused}][^{refused}]*$")

    def __call__(self, value: str) -> str:
        if len(value) > self.max_length:
            return value  # Length has refused it already
        if self.refused.search(value):
            raise ma.ValidationError(self.message)
        if not self.allow_blank and not value.strip():
            raise ma.ValidationError("不能为空")
        return value


class TrimmedString(ma.fields.String):
    """Text under the input policy: validated as sent (so the OpenAPI limits mean what they
    say), stored trimmed."""

    def __init__(self, max_length: int, *, multiline: bool = False, allow_blank: bool = False,
                 validate=None, **kwargs) -> None:
        extra = [] if validate is None else list(validate) if isinstance(
            validate, list | tuple) else [validate]
        if not allow_blank:
            # Described as minLength 1; an empty value is refused once, by TextPolicy.
            kwargs["metadata"] = {"minLength": 1, **kwargs.get("metadata", {})}
        super().__init__(validate=[
            TextPolicy(max_length, multiline, allow_blank),
            ma.validate.Length(max=max_length, error="最多 {max} 个字符"), *extra], **kwargs)

    def deserialize(self, value, attr=None, data=None, **kwargs):
        output = super().deserialize(value, attr, data, **kwargs)
        return output.strip() if isinstance(output, str) else output


def text(max_length: int, required: bool = True, *, multiline: bool = False,
         allow_blank: bool = False, **kwargs) -> TrimmedString:
    """A trimmed string of at most ``max_length`` characters under the input policy;
    non-empty unless ``allow_blank``, one line unless ``multiline``."""
    return TrimmedString(max_length, multiline=multiline, allow_blank=allow_blank,
                         required=required, **kwargs)


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


class BoundedDate(ma.fields.Date):
    """A calendar date in ``MIN_YEAR``–``MAX_YEAR`` (a night shift on 9999-12-31 would end
    in year 10000)."""

    def __init__(self, **kwargs) -> None:
        kwargs["metadata"] = {"pattern": YEARS_PATTERN, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if not MIN_YEAR <= parsed.year <= MAX_YEAR:
            raise ma.ValidationError(YEARS_REFUSED)
        return parsed


class DateRangeSchema(ma.Schema):
    """``from`` and ``to`` as local dates, ``to`` not before ``from``."""

    first_day = BoundedDate(required=True, data_key="from")
    last_day = BoundedDate(required=True, data_key="to")

    @ma.validates_schema
    def check_order(self, data, **kwargs):
        if data.get("first_day") and data.get("last_day") and (
                data["last_day"] < data["first_day"]):
            raise ma.ValidationError({"to": ["结束日期不能早于开始日期"]})


class OptionalPeriodSchema(DateRangeSchema):
    """``from`` and ``to`` where a period is optional: with neither, the current local month;
    a missing ``from`` is the first day of ``to``'s month, a missing ``to`` the last day of
    the current month (or of ``from``'s month, when that is later)."""

    first_day = BoundedDate(data_key="from", load_default=None,
                            metadata={"description": "default: the current month's first day"})
    last_day = BoundedDate(data_key="to", load_default=None,
                           metadata={"description": "default: the current month's last day"})

    @ma.post_load
    def default_to_a_month(self, data, **kwargs):
        first, last = data["first_day"], data["last_day"]
        this_first, this_last = month_bounds(today())
        if first is None:
            first = last.replace(day=1) if last is not None else this_first
        if last is None:
            last = this_last if first <= this_last else month_bounds(first)[1]
        return {**data, "first_day": first, "last_day": last}


class ServedBySchema(ma.Schema):
    """Which database answered a report (only when a replica is configured, issue #19)."""

    database = ma.fields.String(required=True, metadata={"enum": ["replica", "primary"]})
    lag_s = ma.fields.Float(allow_none=True,
                            metadata={"description": "replication lag in seconds, if known"})
    fallback = ma.fields.String(allow_none=True, metadata={
        "description": "why the primary answered: replica_unreachable, replica_lagging, "
                       "not_a_replica"})
