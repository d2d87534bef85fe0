from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma

from backend.activities.models import ActivityStatus, SignupStatus
from backend.common.clock import LocalDateTime
from backend.common.pagination import PageArgsSchema
from backend.common.schemas import StrictBoolean, ident, text


class ActivityInSchema(ma.Schema):
    title = text(100)
    description = text(5000, False, multiline=True, allow_blank=True, load_default="")
    location = text(200, False, allow_blank=True, load_default="")
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(required=True)
    capacity = ma.fields.Integer(strict=True, required=True,
                                 validate=ma.validate.Range(min=1, max=100_000))
    signup_opens_at = LocalDateTime(load_default=None, allow_none=True)
    signup_closes_at = LocalDateTime(load_default=None, allow_none=True)
    cancel_deadline = LocalDateTime(load_default=None, allow_none=True)
    points_per_hour = ma.fields.Integer(strict=True, load_default=None, allow_none=True,
                                        validate=ma.validate.Range(min=0, max=1000))
    walk_ins_allowed = StrictBoolean(load_default=False)
    self_checkin_allowed = StrictBoolean(load_default=False)
    # The residents' need this activity serves (SPEC §9a): accepted, taken on by its team.
    need_id = ident(load_default=None, allow_none=True)

    @ma.validates_schema
    def check_times(self, data, **kwargs):
        errors = time_rule_errors(data)
        if errors:
            raise ma.ValidationError(errors)


class ActivityPatchSchema(ma.Schema):
    """What a leader may change; times only while the activity is a draft."""

    title = text(100, required=False)
    description = text(5000, False, multiline=True, allow_blank=True)
    location = text(200, False, allow_blank=True)
    starts_at = LocalDateTime()
    ends_at = LocalDateTime()
    capacity = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=100_000))
    signup_opens_at = LocalDateTime(allow_none=True)
    signup_closes_at = LocalDateTime(allow_none=True)
    cancel_deadline = LocalDateTime(allow_none=True)
    points_per_hour = ma.fields.Integer(strict=True, allow_none=True,
                                        validate=ma.validate.Range(min=0, max=1000))
    walk_ins_allowed = StrictBoolean()
    self_checkin_allowed = StrictBoolean()
    need_id = ident(allow_none=True)


def time_rule_errors(values: Mapping[str, Any]) -> dict[str, list[str]]:
    """The rules between an activity's times, for a new body or an edited activity."""
    errors: dict[str, list[str]] = {}
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if starts and ends and ends <= starts:
        errors["ends_at"] = ["结束时间必须晚于开始时间"]
    opens, closes = values.get("signup_opens_at"), values.get("signup_closes_at")
    if opens and (closes or starts) and opens >= (closes or starts):
        errors["signup_opens_at"] = ["报名开始时间必须早于报名截止时间"]
    if closes and ends and closes > ends:
        errors["signup_closes_at"] = ["报名截止时间不能晚于活动结束时间"]
    deadline = values.get("cancel_deadline")
    if deadline and ends and deadline > ends:
        errors["cancel_deadline"] = ["取消截止时间不能晚于活动结束时间"]
    return errors


class ActivityListArgsSchema(PageArgsSchema):
    community_id = ident(strict=False)
    status = ma.fields.Enum(ActivityStatus, by_value=True)
    starts_from = LocalDateTime(data_key="from")
    starts_to = LocalDateTime(data_key="to")


class MySignupSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.Enum(SignupStatus, by_value=True, required=True)
    waitlist_position = ma.fields.Integer(required=True, allow_none=True)


class ActivitySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    team_id = ma.fields.Integer(required=True)
    community_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    location = ma.fields.String(required=True)
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(required=True)
    capacity = ma.fields.Integer(required=True)
    signup_opens_at = LocalDateTime(required=True, allow_none=True)
    signup_closes_at = LocalDateTime(required=True, allow_none=True)
    cancel_deadline = LocalDateTime(required=True, allow_none=True)
    points_per_hour = ma.fields.Integer(required=True, allow_none=True)
    walk_ins_allowed = StrictBoolean(required=True)
    self_checkin_allowed = StrictBoolean(required=True)
    status = ma.fields.Enum(ActivityStatus, by_value=True, required=True)
    confirmed_count = ma.fields.Integer(required=True)
    waitlist_count = ma.fields.Integer(required=True)
    need_id = ma.fields.Integer(allow_none=True)
    my_signup = ma.fields.Nested(MySignupSchema, required=True, allow_none=True)


class SignupSchema(MySignupSchema):
    activity_id = ma.fields.Integer(required=True)
    user_id = ma.fields.Integer(required=True)
    created_at = LocalDateTime(required=True)
    cancelled_at = LocalDateTime(required=True, allow_none=True)


class SignupListArgsSchema(PageArgsSchema):
    status = ma.fields.Enum(SignupStatus, by_value=True)


class RosterEntrySchema(SignupSchema):
    display_name = ma.fields.String(required=True)


class ActivitySummarySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    location = ma.fields.String(required=True)
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(required=True)
    status = ma.fields.Enum(ActivityStatus, by_value=True, required=True)


class MySignupEntrySchema(SignupSchema):
    activity = ma.fields.Nested(ActivitySummarySchema, required=True)
