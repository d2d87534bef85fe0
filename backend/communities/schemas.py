from __future__ import annotations

import marshmallow as ma

from backend.common.clock import LocalDateTime
from backend.common.pagination import PageArgsSchema
from backend.common.schemas import BoundedDate, StrictBoolean, ident, text
from backend.communities.models import TeamCategory, TeamRole


class CommunityInSchema(ma.Schema):
    name = text(100)
    street = text(100)


class CommunitySettingsSchema(ma.Schema):
    noshow_limit = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=100))
    noshow_window_days = ma.fields.Integer(strict=True,
                                           validate=ma.validate.Range(min=1, max=3650))
    suspension_days = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=0, max=3650))
    points_per_hour = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=0, max=1000))
    daily_points_cap = ma.fields.Integer(strict=True, allow_none=True,
                                         validate=ma.validate.Range(min=0, max=100_000))
    points_expire = StrictBoolean(
        metadata={"description": "points earned in year Y expire at the end of Y+1"})
    max_points_per_hour = ma.fields.Integer(
        strict=True, validate=ma.validate.Range(min=0, max=1000),
        metadata={"description": "admins: the most points per hour a rate may give"})
    max_points_per_shift = ma.fields.Integer(
        strict=True, validate=ma.validate.Range(min=0, max=1000),
        metadata={"description": "admins: the most points a duty shift may give"})


class CommunitySchema(CommunitySettingsSchema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    street = ma.fields.String(required=True)
    created_at = LocalDateTime(required=True)


class StaffInSchema(ma.Schema):
    user_id = ident(required=True)


class StaffSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    community_id = ma.fields.Integer(required=True)
    user_id = ma.fields.Integer(required=True)


class JoinInSchema(ma.Schema):
    real_name = text(50)
    building = text(20)
    unit = text(20)
    room = text(20)


class ResidentSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    user_id = ma.fields.Integer(required=True)
    community_id = ma.fields.Integer(required=True)
    real_name = ma.fields.String(required=True)
    building = ma.fields.String(required=True)
    unit = ma.fields.String(required=True)
    room = ma.fields.String(required=True)
    joined_at = LocalDateTime(required=True)


class TeamInSchema(ma.Schema):
    name = text(100)
    category = ma.fields.Enum(TeamCategory, by_value=True, required=True)


class TeamSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    community_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    category = ma.fields.Enum(TeamCategory, by_value=True, required=True)


class MemberInSchema(ma.Schema):
    user_id = ident(required=True)
    role = ma.fields.Enum(TeamRole, by_value=True, load_default=TeamRole.MEMBER)


class MemberSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    team_id = ma.fields.Integer(required=True)
    user_id = ma.fields.Integer(required=True)
    role = ma.fields.Enum(TeamRole, by_value=True, required=True)
    display_name = ma.fields.String(required=True)


class AuditArgsSchema(PageArgsSchema):
    actor_id = ident(strict=False)
    action = ma.fields.String(validate=ma.validate.Regexp(r"^[a-z_.]{1,60}$"),
                              metadata={"example": "attendance.approved"})
    first_day = BoundedDate(data_key="from")
    last_day = BoundedDate(data_key="to")


class AuditEntrySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    actor_id = ma.fields.Integer(required=True)
    action = ma.fields.String(required=True)
    subject = ma.fields.String(required=True)
    before = ma.fields.Dict(required=True, allow_none=True)
    after = ma.fields.Dict(required=True, allow_none=True)
    reason = ma.fields.String(required=True)
    created_at = LocalDateTime(required=True)
