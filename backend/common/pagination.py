"""SPEC §2 pagination: ``?page=&per_page=`` in, ``{items, page, per_page, total}`` out."""

from __future__ import annotations

from functools import cache
from typing import Any

import marshmallow as ma
from sqlalchemy import Select, func, select

from backend.extensions import db

MAX_PER_PAGE = 100


class PageArgsSchema(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=100_000))
    per_page = ma.fields.Integer(
        load_default=20, validate=ma.validate.Range(min=1, max=MAX_PER_PAGE)
    )


@cache
def page_of(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The response schema for one page of ``item_schema`` (one class per item schema)."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    return type(
        name,
        (ma.Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "page": ma.fields.Integer(required=True),
            "per_page": ma.fields.Integer(required=True),
            "total": ma.fields.Integer(required=True),
        },
    )


def paginate(query: Select, page: int, per_page: int) -> dict[str, Any]:
    """Run ``query`` for one page; ``total`` counts the whole result."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": list(items), "page": page, "per_page": per_page, "total": total or 0}
