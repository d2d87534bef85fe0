"""Schemas of the street's view (SPEC §9a): the yearly team assessment, its weights and
the street overview."""

from __future__ import annotations

import marshmallow as ma

from backend.common.clock import MAX_YEAR, MIN_YEAR, LocalDateTime, today
from backend.common.pagination import PageArgsSchema
from backend.common.schemas import OptionalPeriodSchema, ServedBySchema, text
from backend.communities.models import TeamCategory


def _weight() -> ma.fields.Integer:
    return ma.fields.Integer(required=True, strict=True,
                             validate=ma.validate.Range(min=0, max=100))


def _year() -> ma.fields.Integer:
    return ma.fields.Integer(load_default=None,
                             validate=ma.validate.Range(min=MIN_YEAR, max=MAX_YEAR),
                             metadata={"description": "calendar year (community time); "
                                                      "default: this year"})


class AssessmentExportArgsSchema(ma.Schema):
    year = _year()

    @ma.post_load
    def default_year(self, data, **kwargs):
        return {**data, "year": data.get("year") or today().year}


class AssessmentArgsSchema(AssessmentExportArgsSchema, PageArgsSchema):
    """The year and the page."""


class ScoresSchema(ma.Schema):
    foundation = ma.fields.Float(required=True, metadata={"description": "基本建设, 0–100"})
    conduct = ma.fields.Float(required=True, metadata={"description": "内部规范, 0–100"})
    performance = ma.fields.Float(required=True, metadata={"description": "业绩考量, 0–100"})
    total = ma.fields.Float(required=True, metadata={"description": "weighted, 0–100"})


class FoundationMetricsSchema(ma.Schema):
    members = ma.fields.Integer(required=True)
    leaders = ma.fields.Integer(required=True)
    active_volunteers = ma.fields.Integer(required=True)


class ConductMetricsSchema(ma.Schema):
    attendances = ma.fields.Integer(required=True)
    served = ma.fields.Integer(required=True)
    signed_off_on_time = ma.fields.Integer(required=True)
    corrected = ma.fields.Integer(required=True)
    no_shows = ma.fields.Integer(required=True)
    on_time_rate = ma.fields.Float(required=True, allow_none=True)
    correction_rate = ma.fields.Float(required=True, allow_none=True)
    no_show_rate = ma.fields.Float(required=True, allow_none=True)
    sign_off_days = ma.fields.Integer(required=True)


class PerformanceMetricsSchema(ma.Schema):
    activities_held = ma.fields.Integer(required=True)
    volunteer_hours = ma.fields.Float(required=True)
    ratings = ma.fields.Integer(required=True)
    average_rating = ma.fields.Float(required=True, allow_none=True)
    needs_done = ma.fields.Integer(required=True)


class MetricsSchema(ma.Schema):
    foundation = ma.fields.Nested(FoundationMetricsSchema, required=True)
    conduct = ma.fields.Nested(ConductMetricsSchema, required=True)
    performance = ma.fields.Nested(PerformanceMetricsSchema, required=True)


class TeamAssessmentSchema(ma.Schema):
    team_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    category = ma.fields.Enum(TeamCategory, by_value=True, required=True)
    rank = ma.fields.Integer(required=True)
    scores = ma.fields.Nested(ScoresSchema, required=True)
    metrics = ma.fields.Nested(MetricsSchema, required=True)


class WeightsSchema(ma.Schema):
    foundation = ma.fields.Integer(required=True)
    conduct = ma.fields.Integer(required=True)
    performance = ma.fields.Integer(required=True)


class TeamAssessmentPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(TeamAssessmentSchema), required=True)
    page = ma.fields.Integer(required=True)
    per_page = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)
    year = ma.fields.Integer(required=True)
    weights = ma.fields.Nested(WeightsSchema, required=True)
    served_by = ma.fields.Nested(ServedBySchema)  # with a replica configured


class WeightsInSchema(ma.Schema):
    """Percent per dimension, whole numbers summing to 100."""

    foundation = _weight()
    conduct = _weight()
    performance = _weight()
    reason = text(200, required=False, allow_blank=True)

    @ma.validates_schema
    def check_sum(self, data, **kwargs):
        if sum(data.get(name, 0) for name in ("foundation", "conduct", "performance")) != 100:
            raise ma.ValidationError("三项权重之和须为 100", "_schema")


class WeightsOutSchema(WeightsSchema):
    is_default = ma.fields.Boolean(required=True)
    updated_by = ma.fields.Integer(required=True, allow_none=True)
    updated_at = LocalDateTime(required=True, allow_none=True)


class OverviewArgsSchema(OptionalPeriodSchema, PageArgsSchema):
    """``from``/``to`` local dates (default: the current month) and the page."""


class CommunityOverviewSchema(ma.Schema):
    community_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    street = ma.fields.String(required=True)
    residents = ma.fields.Integer(required=True)
    active_volunteers = ma.fields.Integer(required=True)
    activities_held = ma.fields.Integer(required=True)
    volunteer_hours = ma.fields.Float(required=True)
    points_issued = ma.fields.Integer(required=True)
    points_redeemed = ma.fields.Integer(required=True)
    open_needs = ma.fields.Integer(required=True)


class OverviewPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CommunityOverviewSchema), required=True)
    page = ma.fields.Integer(required=True)
    per_page = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)
    first_day = ma.fields.Date(required=True, data_key="from")
    last_day = ma.fields.Date(required=True, data_key="to")
    served_by = ma.fields.Nested(ServedBySchema)  # with a replica configured
