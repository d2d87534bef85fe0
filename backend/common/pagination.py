"""SPEC §2 pagination: ``?page=&per_page=`` in, ``{items, page, per_page, total}`` out.

A list endpoint is decorated ``@paginated(blp, ItemSchema)`` and returns its query (a
``Select``), or ``Listing(query, shape)`` when the page's items need reshaping (names
looked up for the page at once, …), or a page it built itself (a fixed list: the rows one
POST changed). The decorator takes ``page``/``per_page`` out of the query arguments; a view
that pages by itself declares a ``paging`` parameter and gets ``(page, per_page)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, wraps
from typing import Any, TypeVar

import marshmallow as ma
from flask_smorest import Blueprint
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


@dataclass(frozen=True)
class Listing:
    """A list endpoint's query and what to make of one page of its rows."""

    query: Select
    shape: Callable[[list[Any]], Sequence[Any]]


F = TypeVar("F", bound=Callable[..., Any])


def paginated(blp: Blueprint, item_schema: type[ma.Schema]) -> Callable[[F], F]:
    """The one way a list endpoint pages: the response schema and the paging glue."""

    def decorate(view: F) -> F:
        wants_paging = "paging" in inspect.signature(view).parameters

        @blp.response(200, page_of(item_schema))
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            paging = _take_paging(args)
            if wants_paging:
                kwargs["paging"] = paging
            answer = view(*args, **kwargs)
            if isinstance(answer, Mapping):
                return answer  # a page the view built (or a fixed list as one page)
            if paging is None:
                raise TypeError(f"{view.__qualname__} pages a query without ?page=&per_page=")
            if isinstance(answer, Listing):
                page = paginate(answer.query, *paging)
                page["items"] = list(answer.shape(page["items"]))
                return page
            return paginate(answer, *paging)

        return wrapper  # type: ignore[return-value]

    return decorate


def _take_paging(args: tuple[Any, ...]) -> tuple[int, int] | None:
    """Pop ``page`` and ``per_page`` from the view's query arguments (a dict argument)."""
    for arg in args:
        if isinstance(arg, dict) and "page" in arg and "per_page" in arg:
            return arg.pop("page"), arg.pop("per_page")
    return None
