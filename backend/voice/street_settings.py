"""Street-wide settings (SPEC §9a): the weights of the yearly team assessment.

One row (``id = 1``) in ``street_settings``; until an admin saves weights the defaults
below apply. The database keeps the weights whole, non-negative and summing to 100.

The audit log has no street-level entries (``audit_log.community_id`` is NOT NULL and
every community's staff read their own log), so a change of weights is written into the
log of every community it affects: each community's staff can see when and by whom the
rules their teams are judged by were changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, select
from sqlalchemy.orm import Mapped, mapped_column

from backend.auth.models import User
from backend.common.audit import audit
from backend.common.clock import UTCDateTime, now
from backend.common.transactions import lock, transactional, upsert_insert
from backend.communities.access import require_admin
from backend.communities.models import Community
from backend.errors import ValidationFailed
from backend.extensions import db

DIMENSIONS = ("foundation", "conduct", "performance")
DEFAULT_WEIGHTS = {"foundation": 30, "conduct": 30, "performance": 40}
SETTINGS_ID = 1


class StreetSettings(db.Model):
    __tablename__ = "street_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("weight_foundation >= 0 AND weight_conduct >= 0 "
                        "AND weight_performance >= 0", name="weights_not_negative"),
        CheckConstraint("weight_foundation + weight_conduct + weight_performance = 100",
                        name="weights_sum_to_100"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    weight_foundation: Mapped[int] = mapped_column(default=DEFAULT_WEIGHTS["foundation"])
    weight_conduct: Mapped[int] = mapped_column(default=DEFAULT_WEIGHTS["conduct"])
    weight_performance: Mapped[int] = mapped_column(default=DEFAULT_WEIGHTS["performance"])
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def weights(self) -> dict[str, int]:
        return {name: getattr(self, f"weight_{name}") for name in DIMENSIONS}


def assessment_weights() -> dict[str, int]:
    """The weights in force (percent per dimension)."""
    row = db.session.get(StreetSettings, SETTINGS_ID)
    return row.weights if row is not None else dict(DEFAULT_WEIGHTS)


def weights_view(actor: User) -> dict[str, Any]:
    require_admin(actor)
    row = db.session.get(StreetSettings, SETTINGS_ID)
    return _view(row)


@transactional
def set_assessment_weights(actor: User, weights: dict[str, int],
                           reason: str = "") -> dict[str, Any]:
    """Save new weights (admin), audited in every community's log."""
    require_admin(actor)
    if sum(weights.values()) != 100:
        raise ValidationFailed({"_schema": ["三项权重之和须为 100"]}, "三项权重之和须为 100")
    row = _locked_row()
    before = row.weights
    for name in DIMENSIONS:
        setattr(row, f"weight_{name}", weights[name])
    row.updated_by, row.updated_at = actor.id, now()
    if before != row.weights:
        for community_id in db.session.scalars(select(Community.id).order_by(Community.id)):
            audit(actor.id, community_id, "street.assessment_weights", "street:assessment",
                  reason, before=before, after=row.weights)
    return _view(row)


def _locked_row() -> StreetSettings:
    """The settings row under its lock; the first save creates it (two first saves at
    once: the second waits on the key, inserts nothing and then locks the first's row)."""
    row = lock(StreetSettings, SETTINGS_ID)
    if row is None:
        db.session.execute(upsert_insert(StreetSettings).values(
            id=SETTINGS_ID, **{f"weight_{k}": v for k, v in DEFAULT_WEIGHTS.items()})
            .on_conflict_do_nothing(index_elements=["id"]))
        row = lock(StreetSettings, SETTINGS_ID)
    assert row is not None
    return row


def _view(row: StreetSettings | None) -> dict[str, Any]:
    weights = row.weights if row is not None else dict(DEFAULT_WEIGHTS)
    return {**weights, "is_default": row is None,
            "updated_by": row.updated_by if row else None,
            "updated_at": row.updated_at if row else None}
