"""``Idempotency-Key`` (SPEC §2): the same key, user and body replay the first answer.

A POST with the header first reserves ``(user, key)`` in its own short transaction; the
unique constraint makes exactly one request win, in any number of processes. The answer
is stored when the request finishes. A different body under the same key is refused, and
a reservation left behind by a crashed process is taken over after a while. Answers are
kept for ``IDEMPOTENCY_KEEP_H`` hours (a client retries within minutes), then swept.

An endpoint whose body carries its own key (a scan's ``scan_id``) is marked
``@natural_key``: the middleware neither reserves nor stores anything for it (no commit of
its own, no second connection); its use case calls ``claim`` inside its own transaction,
which notes the key so that the same key with a different body is still refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy import (
    Executable,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    bindparam,
    delete,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.clock import UTCDateTime, now
from backend.database import discard_transaction
from backend.extensions import db
from backend.refusals import (
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    VALIDATION_ERROR,
)

HEADER = "Idempotency-Key"
log = logging.getLogger(__name__)
STALE_AFTER = timedelta(minutes=5)
# Printable ASCII: what clients send (UUIDs, counters), and nothing a database refuses (NUL).
_KEY = re.compile(r"[\x21-\x7e]{1,200}")
SWEEP_BATCH = 5000


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    content_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


Index("ix_idempotency_keys_created_at", IdempotencyKey.created_at)


def register(app: Flask, user_id: Callable[[], int | None]) -> None:
    """``user_id`` names who is asking (None: nobody; a revoked token answers 401 there,
    not a replay): create_app passes auth's, so ``common`` never imports ``auth``."""
    app.extensions["linli_idempotency_user_id"] = user_id
    app.before_request(_replay_or_reserve)
    app.after_request(_store_answer)


V = TypeVar("V", bound=Callable[..., Any])
_NATURAL = "linli_natural_idempotency_key"


def natural_key(view: V) -> V:
    """Mark a view whose body carries its own idempotency key: the middleware skips it, and
    its use case calls ``claim`` in its transaction (put it below ``@blp.route``)."""
    setattr(view, _NATURAL, True)
    return view


def _replay_or_reserve() -> Response | None:
    key = request.headers.get(HEADER)
    if request.method != "POST" or not key:
        return None
    if getattr(current_app.view_functions.get(request.endpoint), _NATURAL, False):
        _check_format(key)
        return None  # the use case claims the key in its own transaction
    user_id = current_app.extensions["linli_idempotency_user_id"]()
    if user_id is None:
        return None  # the view answers 401 (or, for login, has nothing to duplicate)
    _check_format(key)
    digest = _request_hash()
    record = _reserve(user_id, key, digest)
    if record is None:
        g.idempotency_record = (user_id, key)
        return None
    if record.request_hash != digest:
        raise IDEMPOTENCY_KEY_REUSED()
    if record.status_code is None:
        raise IDEMPOTENCY_REQUEST_IN_PROGRESS()
    return Response(record.body, status=record.status_code, content_type=record.content_type)


def _check_format(key: str) -> None:
    if not _KEY.fullmatch(key):
        raise VALIDATION_ERROR.saying(
            "Idempotency-Key 格式有误",
            details={"fields": {HEADER: ["须为 1 至 200 个可见 ASCII 字符"]}},
        )


def claim(user_id: int) -> None:
    """On a ``@natural_key`` endpoint, note the request's key in the caller's transaction
    (nothing is committed here): the same key with the same body goes on to the endpoint's
    own replay, with a different body it is refused (409 ``idempotency_key_reused``)."""
    key = request.headers.get(HEADER) if has_request_context() else None
    if not key:
        return
    digest = _request_hash()
    connection = db.session.connection()
    params = {"user_id": user_id, "key": key, "request_hash": digest, "created_at": now()}
    if connection.execute(_claim_statement(connection.dialect.name), params).first():
        return
    stored = connection.execute(_stored_hash, params).scalar()
    if stored is not None and stored != digest:
        raise IDEMPOTENCY_KEY_REUSED()


_CLAIMS: dict[str, Executable] = {}
_stored_hash = select(IdempotencyKey.request_hash).where(
    IdempotencyKey.user_id == bindparam("user_id"), IdempotencyKey.key == bindparam("key"))


def _claim_statement(dialect: str) -> Executable:
    # Built once per dialect. Stored as answered (200, no body): the replay is the
    # endpoint's own, so a stale-reservation takeover never applies to it.
    if dialect not in _CLAIMS:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        _CLAIMS[dialect] = insert(IdempotencyKey).values(
            user_id=bindparam("user_id"), key=bindparam("key"),
            request_hash=bindparam("request_hash"), status_code=200,
            created_at=bindparam("created_at")).on_conflict_do_nothing(
            index_elements=["user_id", "key"]).returning(IdempotencyKey.id)
    return _CLAIMS[dialect]


def _request_hash() -> str:
    body = request.get_data(cache=True)
    # Same JSON, different spacing or key order, is the same request.
    with contextlib.suppress(ValueError):
        body = json.dumps(json.loads(body), sort_keys=True).encode()
    return hashlib.sha256(request.path.encode() + b"\n" + body).hexdigest()


def _reserve(user_id: int, key: str, digest: str) -> IdempotencyKey | None:
    """Reserve the key; None if we got it, else the existing record."""
    for _ in range(2):
        try:
            db.session.add(IdempotencyKey(user_id=user_id, key=key, request_hash=digest))
            db.session.commit()
            return None
        except IntegrityError:
            db.session.rollback()
        record = db.session.scalar(select(IdempotencyKey).filter_by(user_id=user_id, key=key))
        if record is None:
            continue
        if record.status_code is None and now() - record.created_at > STALE_AFTER:
            db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record.id))
            db.session.commit()
            continue
        return record
    raise IDEMPOTENCY_REQUEST_IN_PROGRESS()


def _store_answer(response: Response) -> Response:
    reserved = g.pop("idempotency_record", None)
    if reserved is None:
        return response
    user_id, key = reserved
    discard_transaction(db.session)
    try:
        if response.status_code >= 500:
            # Nothing happened: let the client retry with the same key.
            db.session.execute(delete(IdempotencyKey).filter_by(user_id=user_id, key=key))
        else:
            record = db.session.scalar(select(IdempotencyKey).filter_by(user_id=user_id,
                                                                         key=key))
            if record is None:  # taken over as stale meanwhile; the newer request owns it
                return response
            record.status_code = response.status_code
            record.content_type = response.content_type
            record.body = response.get_data()
        db.session.commit()
    except DBAPIError as error:
        # The database went away after the endpoint answered. Its answer still stands (the
        # work committed, or nothing happened); the key stays reserved, and a retry with it
        # is refused as in progress until the reservation goes stale (STALE_AFTER).
        discard_transaction(db.session)
        log.warning("idempotency: could not store the answer for key %r: %s", key, error)
    return response


def sweep_expired_keys() -> int:
    """Delete answers older than ``IDEMPOTENCY_KEEP_H`` (in batches, each committed: safe to
    run twice or concurrently). Returns how many were deleted."""
    cutoff = now() - timedelta(hours=current_app.config["IDEMPOTENCY_KEEP_H"])
    deleted = 0
    while True:
        batch = select(IdempotencyKey.id).where(IdempotencyKey.created_at < cutoff).limit(
            SWEEP_BATCH)
        count = db.session.execute(delete(IdempotencyKey).where(
            IdempotencyKey.id.in_(batch.scalar_subquery())),
            execution_options={"synchronize_session": False}).rowcount
        db.session.commit()
        deleted += count
        if count < SWEEP_BATCH:
            return deleted
