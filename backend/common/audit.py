"""The audit log (SPEC §3): who changed points, rates, stock, fees or rosters, when, what it
was before and after, and why. Rows are only ever added, in the transaction of the change
they describe, so an entry exists if and only if the change was committed."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.clock import UTCDateTime, now
from backend.extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_community_created", "community_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(60))
    # What the action was about, e.g. "attendance:42", "team:3".
    subject: Mapped[str] = mapped_column(String(80))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


def audit(actor_id: int, community_id: int, action: str, subject: str, reason: str = "",
          before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    """Add an audit entry to the current transaction (flush only)."""
    db.session.add(AuditEntry(community_id=community_id, actor_id=actor_id, action=action,
                              subject=subject, reason=reason[:200],
                              before=_jsonable(before), after=_jsonable(after)))


def _jsonable(value: Any) -> Any:
    """Times, dates, amounts and enums as the API shows them, so the JSON column takes them."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``before`` and ``after`` of the fields whose value changed."""
    changed = [key for key in new if old.get(key) != new[key]]
    return {key: old.get(key) for key in changed}, {key: new[key] for key in changed}
