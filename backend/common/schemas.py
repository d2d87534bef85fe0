"""Field helpers shared by the domains' schemas."""

from __future__ import annotations

import marshmallow as ma


def text(max_length: int, **kwargs) -> ma.fields.String:
    """A required, trimmed, non-empty string of at most ``max_length`` characters."""
    return TrimmedString(required=True, validate=ma.validate.Length(min=1, max=max_length),
                         **kwargs)


def ident(strict: bool = True, **kwargs) -> ma.fields.Integer:
    """A row id; ``strict=False`` for query strings, where every value is text."""
    return ma.fields.Integer(strict=strict, validate=ma.validate.Range(min=1, max=2**31 - 1),
                             **kwargs)


class TrimmedString(ma.fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()
