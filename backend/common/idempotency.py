"""``Idempotency-Key`` (SPEC §2): the same key, user and body replay the first answer.

A POST with the header first reserves ``(user, key)`` in its own short transaction; the
unique constraint makes exactly one request win, in any number of processes. The answer
is stored when the request finishes. A different body under the same key is refused, and
a reservation left behind by a crashed process is taken over after a while. Answers are
kept for ``IDEMPOTENCY_KEEP_H`` hours (a client retries within minutes), then swept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask, Response, current_app, g, request
from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.clock import UTCDateTime, now
from backend.errors import ApiError
from backend.extensions import db

HEADER = "Idempotency-Key"
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


def _replay_or_reserve() -> Response | None:
    key = request.headers.get(HEADER)
    if request.method != "POST" or not key:
        return None
    user_id = current_app.extensions["linli_idempotency_user_id"]()
    if user_id is None:
        return None  # the view answers 401 (or, for login, has nothing to duplicate)
    if not _KEY.fullmatch(key):
        raise ApiError("validation_error", "Idempotency-Key 格式有误", 422,
                       {"fields": {HEADER: ["须为 1 至 200 个可见 ASCII 字符"]}})
    digest = _request_hash()
    record = _reserve(user_id, key, digest)
    if record is None:
        g.idempotency_record = (user_id, key)
        return None
    if record.request_hash != digest:
        raise ApiError("idempotency_key_reused", "该请求标识已用于不同的内容")
    if record.status_code is None:
        raise ApiError("idempotency_request_in_progress", "相同的请求正在处理中，请稍后再试")
    return Response(record.body, status=record.status_code, content_type=record.content_type)


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
    raise ApiError("idempotency_request_in_progress", "相同的请求正在处理中，请稍后再试")


def _store_answer(response: Response) -> Response:
    reserved = g.pop("idempotency_record", None)
    if reserved is None:
        return response
    user_id, key = reserved
    db.session.rollback()
    if response.status_code >= 500:
        # Nothing happened: let the client retry with the same key.
        db.session.execute(delete(IdempotencyKey).filter_by(user_id=user_id, key=key))
    else:
        record = db.session.scalar(select(IdempotencyKey).filter_by(user_id=user_id, key=key))
        if record is None:  # taken over as stale meanwhile; the newer request owns it
            return response
        record.status_code = response.status_code
        record.content_type = response.content_type
        record.body = response.get_data()
    db.session.commit()
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
