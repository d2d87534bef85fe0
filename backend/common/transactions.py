"""The one transaction model: a use case is one unit of work on the request's session.

``@transactional`` commits when the use case returns and rolls back when it raises, so a
service never writes ``db.session.commit()`` by hand and everything it added (the change,
its audit row, its outbox notices) commits or vanishes together. Nested use cases join the
outer unit instead of committing half of it. ``lock(Model, id)`` is the one way to take a
row lock (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises writers anyway), and
``lock_where(query)`` the one way to lock the rows of any other select.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from flask import g, has_app_context
from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql, sqlite

from backend.database import discard_transaction
from backend.extensions import db

P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M")

_DEPTH = "_linli_unit_depth"


def _depth() -> int:
    return getattr(g, _DEPTH, 0) if has_app_context() else 0


def _set_depth(value: int) -> None:
    if has_app_context():
        setattr(g, _DEPTH, value)


def in_unit_of_work() -> bool:
    """True inside a use case's unit of work (its reads must see its own writes)."""
    return _depth() > 0


@contextmanager
def unit_of_work():
    """Commit on success, roll back on any exception; inner units join the outer one."""
    depth = _depth()
    _set_depth(depth + 1)
    try:
        yield db.session
        if depth == 0:
            db.session.commit()
    except BaseException:
        if depth == 0:
            discard_transaction(db.session)  # the failure, not the rollback's, propagates
        raise
    finally:
        _set_depth(depth)


def transactional(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` as one unit of work (see ``unit_of_work``)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with unit_of_work():
            return func(*args, **kwargs)

    return wrapper


def lock(model: type[M], ident: Any, *, skip_locked: bool = False,
         key_share: bool = False) -> M | None:
    """Load ``model`` row ``ident`` under a row lock, refreshed from the database.

    ``key_share`` takes PostgreSQL's weakest lock (``FOR KEY SHARE``, the one a foreign key
    takes): many holders at once, and plain updates of the row go on beside them, but a
    ``FOR UPDATE`` waits until they all commit.
    """
    pk = model.__mapper__.primary_key[0]  # type: ignore[attr-defined]
    query = (select(model).where(pk == ident)
             .with_for_update(skip_locked=skip_locked, read=key_share, key_share=key_share)
             .execution_options(populate_existing=True))
    return db.session.scalar(query)


def lock_where(query: Select[Any], *, skip_locked: bool = False) -> list[Any]:
    """Every row ``query`` selects, under a row lock and refreshed from the database.

    For locks that are not one row by primary key: a batch in a fixed order (``order_by``
    id, so that two use cases never wait on each other in a circle), a row found by
    another unique key, or a sweep that passes over rows another worker holds
    (``skip_locked``).
    """
    query = (query.with_for_update(skip_locked=skip_locked)
             .execution_options(populate_existing=True))
    return list(db.session.scalars(query))


def upsert_insert(target: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into ``target`` in the session's dialect, so it has ``on_conflict_do_…``
    (PostgreSQL and SQLite spell upserts the same way)."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(target)
