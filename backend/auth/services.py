"""Login through WeChat's code2Session, bearer tokens, and who is asking."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from flask import current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from backend.auth.models import User
from backend.common import ratelimit
from backend.common.clock import now
from backend.common.connections import wechat_client
from backend.errors import ApiError, Unauthenticated
from backend.extensions import db
from backend.wechat import InvalidLoginCode, WeChatError

TOKEN_SALT = "linli-auth-token"


@dataclass
class LoginResult:
    token: str
    user: User
    is_new: bool


def login_with_wechat(code: str) -> LoginResult:
    """Exchange a ``wx.login`` code for the user; the session_key stays here."""
    ratelimit.enforce("login", ratelimit.client_ip(), current_app.config["LOGIN_RATE_PER_MIN"])
    try:
        session = wechat_client().code_to_session(code)
    except InvalidLoginCode as error:
        raise ApiError("invalid_login_code", "登录凭证无效或已使用，请重新登录", 401) from error
    except WeChatError as error:
        raise ApiError("unavailable", "微信服务暂时不可用，请稍后再试", 503) from error
    user = db.session.scalar(select(User).where(User.openid == session["openid"]))
    is_new = user is None
    if is_new:
        user = User(openid=session["openid"], nickname=default_nickname(session["openid"]))
        db.session.add(user)
    user.last_login_at = now()
    db.session.commit()
    return LoginResult(issue_token(user), user, is_new)


def default_nickname(openid: str) -> str:
    # WeChat no longer hands out nicknames; residents may change it later.
    return f"邻居{openid[-4:]}"


def issue_token(user: User) -> str:
    return _serializer().dumps({"uid": user.id})


def _serializer(secret_key: str | None = None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key or current_app.config["SECRET_KEY"],
                                  salt=TOKEN_SALT)


def user_id_from_request() -> int | None:
    """The user id of a valid bearer token, or None; never raises."""
    if "linli_user_id" in g:
        return g.linli_user_id
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    user_id = None
    if scheme.lower() == "bearer" and token:
        signed = _signed_token(current_app.config["SECRET_KEY"], token.strip())
        if signed is not None:
            age = time.time() - signed[1]
            user_id = signed[0] if 0 <= age <= current_app.config["TOKEN_MAX_AGE_S"] else None
    g.linli_user_id = user_id
    return user_id


@functools.lru_cache(maxsize=4096)
def _signed_token(secret_key: str, token: str) -> tuple[int, float] | None:
    """(user id, signing time) of a token we signed, or None. Cached: a phone sends the same
    token with every request, and checking its HMAC each time is measurable on hot paths
    (the age is still checked on every request)."""
    try:
        payload, signed_at = _serializer(secret_key).loads(token, return_timestamp=True)
        return int(payload["uid"]), signed_at.timestamp()
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def current_user_id() -> int:
    """The authenticated user's id from the token alone, or a 401 envelope (no query: the
    hot paths that only need the id, like scans, prove membership in their own query)."""
    user_id = user_id_from_request()
    if user_id is None:
        raise Unauthenticated()
    return user_id


def current_user() -> User:
    """The authenticated user, or a 401 envelope."""
    user = g.get("linli_user")
    if user is not None:
        return user
    user = db.session.get(User, current_user_id())
    if user is None:
        raise Unauthenticated()
    g.linli_user = user
    return user


def is_admin(user: User) -> bool:
    return user.openid in current_app.config["BOOTSTRAP_ADMIN_OPENIDS"]


PUBLIC_ENDPOINTS = frozenset({"auth.wechat_login", "healthz", "checkin.verify_certificate"})
PUBLIC_PREFIXES = ("api-docs.", "mp.")  # the API docs; the mock mini-program's static pages


def require_login_for_api() -> None:
    """Authenticate before arguments are parsed: no token is a 401, whatever the body."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS or endpoint.startswith(PUBLIC_PREFIXES):
        return
    if request.method != "OPTIONS":
        current_user_id()
