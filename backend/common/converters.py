"""URL parts with a fixed shape: ``<id:name>`` positive integers that fit the database's
integer ids, ``<month:name>``, ``<verification_code:name>``.

Anything else never reaches a view (or the database), so a 30-digit id or a code with a
NUL byte in it is a 404, not an overflow or a driver error.
"""

from __future__ import annotations

from datetime import date

from werkzeug.routing import BaseConverter, IntegerConverter

MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    def __init__(self, url_map, **kwargs) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def id_parameter_schema(converter: IdConverter) -> dict:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


class MonthConverter(BaseConverter):
    """``<month:name>``: ``YYYY-MM`` (2000–2099) as the month's first day."""

    regex = r"20\d\d-(?:0[1-9]|1[0-2])"

    def to_python(self, value: str) -> date:
        return date(int(value[:4]), int(value[5:]), 1)

    def to_url(self, value: date) -> str:
        return f"{value:%Y-%m}"


def month_parameter_schema(converter: MonthConverter) -> dict:
    return {"type": "string", "pattern": "^" + MonthConverter.regex + "$", "example": "2026-10"}


class VerificationCodeConverter(BaseConverter):
    """A certificate's verification code as printed (``ABCD-EFGH-JKMN-PQRS``), any case,
    with or without the dashes."""

    regex = r"[A-Za-z0-9]{4}(?:-?[A-Za-z0-9]{4}){3}"


def verification_code_parameter_schema(converter: VerificationCodeConverter) -> dict:
    return {"type": "string", "pattern": "^" + VerificationCodeConverter.regex + "$",
            "example": "ABCD-EFGH-JKMN-PQRS"}
