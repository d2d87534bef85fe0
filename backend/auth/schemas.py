from __future__ import annotations

import marshmallow as ma

from backend.common.schemas import text
from backend.communities.schemas import ResidentSchema


class LoginInSchema(ma.Schema):
    code = text(128, metadata={"description": "the code from wx.login"})


class RoleSchema(ma.Schema):
    role = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["admin", "staff", "leader", "resident"]))
    community_id = ma.fields.Integer(required=True, allow_none=True)
    team_id = ma.fields.Integer(required=True, allow_none=True)


class UserSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    nickname = ma.fields.String(required=True)
    roles = ma.fields.List(ma.fields.Nested(RoleSchema), required=True)


class MeSchema(UserSchema):
    resident = ma.fields.Nested(ResidentSchema, required=True, allow_none=True)


class LoginOutSchema(ma.Schema):
    token = ma.fields.String(required=True)
    user = ma.fields.Nested(UserSchema, required=True)
    is_new = ma.fields.Boolean(required=True)
