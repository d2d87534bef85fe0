"""Marshmallow schemas of the residents' voice (SPEC §9a): needs, beneficiaries,
evaluations and the notice board. The assessment's schemas live in their own module."""

from __future__ import annotations

from enum import StrEnum

import marshmallow as ma

from backend.common.clock import LocalDateTime
from backend.common.pagination import PageArgsSchema
from backend.common.schemas import ident, text
from backend.voice.models import (
    COMMENT_MAX,
    DESCRIPTION_MAX,
    HIDDEN_REASON_MAX,
    REPLY_MAX,
    TITLE_MAX,
    NeedCategory,
    NeedStatus,
)

# What staff may set a need to; ``open`` is where every need starts, never a triage result.
TRIAGE_STATUSES = [s.value for s in NeedStatus if s != NeedStatus.OPEN]
MAX_BENEFICIARIES = 1000


# -- needs -----------------------------------------------------------------------------

class NeedInSchema(ma.Schema):
    title = text(TITLE_MAX)
    description = text(DESCRIPTION_MAX, False, multiline=True, allow_blank=True,
                       load_default="")
    category = ma.fields.Enum(NeedCategory, by_value=True, required=True)


class NeedSort(StrEnum):
    SUPPORTERS = "supporters"
    NEWEST = "newest"


class NeedListArgsSchema(PageArgsSchema):
    status = ma.fields.Enum(NeedStatus, by_value=True)
    sort = ma.fields.Enum(NeedSort, by_value=True, load_default=NeedSort.NEWEST)


class NeedSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    community_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    category = ma.fields.Enum(NeedCategory, by_value=True, required=True)
    status = ma.fields.Enum(NeedStatus, by_value=True, required=True)
    supporters = ma.fields.Integer(required=True)
    i_support = ma.fields.Boolean(required=True)
    mine = ma.fields.Boolean(required=True, metadata={"description": "I posted it"})
    author = ma.fields.String(required=True, metadata={"description": "masked (张*明)"})
    reply = ma.fields.String(required=True, allow_none=True)
    team_id = ma.fields.Integer(required=True, allow_none=True)
    team_name = ma.fields.String(required=True, allow_none=True)
    merged_into = ma.fields.Integer(required=True, allow_none=True)
    created_at = LocalDateTime(required=True)
    triaged_at = LocalDateTime(required=True, allow_none=True)


class SupportSchema(ma.Schema):
    supporters = ma.fields.Integer(required=True)
    i_support = ma.fields.Boolean(required=True)


class TriageInSchema(ma.Schema):
    status = ma.fields.Enum(NeedStatus, by_value=True, required=True,
                            validate=ma.validate.OneOf([NeedStatus(s) for s in TRIAGE_STATUSES]))
    reply = text(REPLY_MAX, multiline=True)
    team_id = ident(load_default=None, allow_none=True)
    merged_into = ident(load_default=None, allow_none=True)

    @ma.validates_schema
    def check_status_fields(self, data, **kwargs):
        if data.get("status") == NeedStatus.ACCEPTED and not data.get("team_id"):
            raise ma.ValidationError({"team_id": ["受理需求须指定承接的队伍"]})
        if data.get("status") == NeedStatus.MERGED and not data.get("merged_into"):
            raise ma.ValidationError({"merged_into": ["合并须指定合并到的需求"]})


# -- beneficiaries -----------------------------------------------------------------------

class BeneficiariesInSchema(ma.Schema):
    user_ids = ma.fields.List(ident(), required=True,
                              validate=ma.validate.Length(max=MAX_BENEFICIARIES))


class BeneficiarySchema(ma.Schema):
    user_id = ma.fields.Integer(required=True)
    display_name = ma.fields.String(required=True)


class BeneficiaryListSchema(ma.Schema):
    activity_id = ma.fields.Integer(required=True)
    items = ma.fields.List(ma.fields.Nested(BeneficiarySchema), required=True)


# -- evaluations -------------------------------------------------------------------------

class EvaluationInSchema(ma.Schema):
    rating = ma.fields.Integer(strict=True, required=True,
                               validate=ma.validate.Range(min=1, max=5))
    comment = text(COMMENT_MAX, False, multiline=True, allow_blank=True, load_default=None,
                   allow_none=True)


class EvaluationSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    activity_id = ma.fields.Integer(required=True)
    rating = ma.fields.Integer(required=True)
    comment = ma.fields.String(required=True, allow_none=True)
    hidden = ma.fields.Boolean(required=True)
    created_at = LocalDateTime(required=True)


class HideInSchema(ma.Schema):
    reason = text(HIDDEN_REASON_MAX)


class HiddenEvaluationSchema(EvaluationSchema):
    hidden_reason = ma.fields.String(required=True, allow_none=True)
    hidden_at = LocalDateTime(required=True, allow_none=True)


def _distribution() -> ma.fields.Dict:
    return ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.OneOf(list("12345"))),
                          values=ma.fields.Integer(), required=True,
                          metadata={"description": 'how many gave each rating, keys "1".."5"'})


class CommentSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    rating = ma.fields.Integer(required=True)
    comment = ma.fields.String(required=True)
    author = ma.fields.String(required=True, metadata={"description": "masked (张*明)"})
    created_at = LocalDateTime(required=True)


class SummarySchema(ma.Schema):
    activity_id = ma.fields.Integer(required=True)
    count = ma.fields.Integer(required=True)
    average = ma.fields.Float(required=True, allow_none=True)
    distribution = _distribution()
    comments = ma.fields.List(ma.fields.Nested(CommentSchema), metadata={
        "description": "only for the activity team's leaders and the community's staff"})


class PendingEvaluationSchema(ma.Schema):
    activity_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    community_id = ma.fields.Integer(required=True)
    ends_at = LocalDateTime(required=True)
    evaluate_until = LocalDateTime(required=True)


# -- the notice board ------------------------------------------------------------------

class BoardPointsSchema(ma.Schema):
    month = ma.fields.String(required=True, metadata={"description": "YYYY-MM, the last closed"})
    issued = ma.fields.Integer(required=True)
    redeemed = ma.fields.Integer(required=True, metadata={"description": "net of refunds"})


class BoardActivitySchema(ma.Schema):
    activity_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    team_name = ma.fields.String(required=True)
    ends_at = LocalDateTime(required=True)
    count = ma.fields.Integer(required=True)
    average = ma.fields.Float(required=True, allow_none=True)
    distribution = _distribution()


class BoardNeedSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    category = ma.fields.Enum(NeedCategory, by_value=True, required=True)
    status = ma.fields.Enum(NeedStatus, by_value=True, required=True)
    supporters = ma.fields.Integer(required=True)
    author = ma.fields.String(required=True)
    reply = ma.fields.String(required=True, allow_none=True)
    team_name = ma.fields.String(required=True, allow_none=True)
    triaged_at = LocalDateTime(required=True, allow_none=True)


class NoticeBoardSchema(ma.Schema):
    community_id = ma.fields.Integer(required=True)
    points = ma.fields.Nested(BoardPointsSchema, required=True, allow_none=True,
                              metadata={"description": "null until a month has been closed"})
    activities = ma.fields.List(ma.fields.Nested(BoardActivitySchema), required=True)
    needs = ma.fields.List(ma.fields.Nested(BoardNeedSchema), required=True)
