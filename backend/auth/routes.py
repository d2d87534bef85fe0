from __future__ import annotations

from flask_smorest import Blueprint

from backend.auth import services
from backend.auth.schemas import LoginInSchema, LoginOutSchema, MeSchema
from backend.common.api import refuses
from backend.communities import access
from backend.refusals import (
    BAD_REQUEST,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    INVALID_LOGIN_CODE,
    RATE_LIMITED,
    UNAUTHENTICATED,
    UNAVAILABLE,
    VALIDATION_ERROR,
)

blp = Blueprint("auth", __name__, description="WeChat login and the current user")


@blp.route("/auth/wechat-login", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(LoginInSchema)
@blp.response(200, LoginOutSchema)
@refuses(
    BAD_REQUEST,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    INVALID_LOGIN_CODE,
    RATE_LIMITED,
    UNAVAILABLE,
    VALIDATION_ERROR,
)
def wechat_login(data):
    """Exchange a wx.login code for a Linli token (a bad or used code → 401)."""
    result = services.login_with_wechat(data["code"])
    return {"token": result.token, "user": _user(result.user), "is_new": result.is_new}


@blp.route("/auth/logout", methods=["POST"])
@blp.response(204)
@refuses(
    BAD_REQUEST,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def logout():
    """Log out: this token, and every other token of mine issued before it, answers 401."""
    services.logout(services.current_user())


@blp.route("/me", methods=["GET"])
@blp.response(200, MeSchema)
@refuses(UNAUTHENTICATED)
def me():
    """The current user with roles and, for residents, their address."""
    user = services.current_user()
    return {**_user(user), "resident": access.residency(user)}


def _user(user) -> dict:
    return {"id": user.id, "nickname": user.nickname, "roles": access.roles_of(user)}
