"""``Idempotency-Key`` (SPEC §2): the same key, user and body replay the first answer.

A POST with the header first reserves ``(user, key)`` in its own short transaction; the
unique constraint makes exactly one request win, in any number of processes. The answer
is stored when the request finishes. A different body under the same key is refused, and
a reservation left behind by a crashed process is taken over after a while.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import datetime, timedelta

from flask import Flask, Response, g, request
from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.clock import UTCDateTime, now
from backend.errors import ApiError
from backend.extensions import db

HEADER = "Idempotency-Key"
STALE_AFTER = timedelta(minutes=5)


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


def register(app: Flask) -> None:
    app.before_request(_replay_or_reserve)
    app.after_request(_store_answer)


def _replay_or_reserve() -> Response | None:
    key = request.headers.get(HEADER)
    if request.method != "POST" or not key:
        return None
    from backend.auth.services import user_id_from_request

    user_id = user_id_from_request()
    if user_id is None:
        return None  # the view answers 401 (or, for login, has nothing to duplicate)
    if len(key) > 200:
        raise ApiError("validation_error", "Idempotency-Key 过长", 422,
                       {"fields": {HEADER: ["最长 200 个字符"]}})
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
