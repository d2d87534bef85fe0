"""Login through WeChat's code2Session, bearer tokens, and who is asking.

A token is signed (itsdangerous) with the user's id and ``token_version``: it is good until
``TOKEN_MAX_AGE_S`` or until the version is raised (logout, removal from a role), whichever
comes first. Every request checks the version against the user's row (loaded anyway to
authorise it), except the scans, whose one door query checks it (``TOKEN_CHECKED_BY_VIEW``).
"""

from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass

from flask import current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import inspect, select, update

from backend.auth.models import User
from backend.common import ratelimit
from backend.common.clock import now
from backend.common.connections import wechat_client
from backend.common.transactions import transactional, unit_of_work
from backend.extensions import db
from backend.refusals import INVALID_LOGIN_CODE, UNAUTHENTICATED, UNAVAILABLE
from backend.wechat import InvalidLoginCode, WeChatError

TOKEN_SALT = "linli-auth-token"


@dataclass
class LoginResult:
    token: str
    user: User
    is_new: bool


def login_with_wechat(code: str) -> LoginResult:
    """Exchange a ``wx.login`` code for the user; the session_key stays here. Limited per
    address before WeChat is asked, and per WeChat user once it has said who that is."""
    ratelimit.enforce("login", ratelimit.client_ip(), current_app.config["LOGIN_RATE_PER_MIN"])
    try:
        session = wechat_client().code_to_session(code)
    except InvalidLoginCode as error:
        raise INVALID_LOGIN_CODE() from error
    except WeChatError as error:
        raise UNAVAILABLE.saying("微信服务暂时不可用，请稍后再试") from error
    # Hashed: an openid is an identifier of the person, and Redis keys show up in logs.
    who = hashlib.sha256(session["openid"].encode()).hexdigest()[:32]
    ratelimit.enforce("login-user", who, current_app.config["LOGIN_USER_RATE_PER_MIN"])
    with unit_of_work():
        user = db.session.scalar(select(User).where(User.openid == session["openid"]))
        is_new = user is None
        if is_new:
            user = User(openid=session["openid"], nickname=default_nickname(session["openid"]))
            db.session.add(user)
        user.last_login_at = now()
    # Signed once committed: the new user's id and token version are the database's.
    return LoginResult(issue_token(user), user, is_new)


def default_nickname(openid: str) -> str:
    # WeChat no longer hands out nicknames; residents may change it later.
    return f"邻居{openid[-4:]}"


def issue_token(user: User) -> str:
    return _serializer().dumps({"uid": user.id, "tv": user.token_version or 0})


def revoke_tokens(user_id: int) -> None:
    """Every token of the user issued so far answers 401 from now on (flush only: the
    caller's transaction commits it)."""
    db.session.execute(update(User).where(User.id == user_id).values(
        token_version=User.token_version + 1))


@transactional
def logout(user: User) -> None:
    revoke_tokens(user.id)


def _serializer(secret_key: str | None = None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key or current_app.config["SECRET_KEY"],
                                  salt=TOKEN_SALT)


def user_id_from_request() -> int | None:
    """The user id of a bearer token we signed and that has not expired, or None; never
    raises. (Whether it was revoked since is for ``current_user`` to say.)"""
    claims = _claims()
    return None if claims is None else claims[0]


def token_version_from_request() -> int | None:
    claims = _claims()
    return None if claims is None else claims[1]


def _claims() -> tuple[int, int] | None:
    if "linli_token" in g:
        return g.linli_token
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    claims = None
    if scheme.lower() == "bearer" and token:
        signed = _signed_token(current_app.config["SECRET_KEY"], token.strip())
        if signed is not None:
            age = time.time() - signed[2]
            if 0 <= age <= current_app.config["TOKEN_MAX_AGE_S"]:
                claims = signed[0], signed[1]
    g.linli_token = claims
    return claims


@functools.lru_cache(maxsize=4096)
def _signed_token(secret_key: str, token: str) -> tuple[int, int, float] | None:
    """(user id, token version, signing time) of a token we signed, or None. Cached: a phone
    sends the same token with every request, and checking its HMAC each time is measurable
    on hot paths (the age and the version are still checked on every request)."""
    try:
        payload, signed_at = _serializer(secret_key).loads(token, return_timestamp=True)
        return int(payload["uid"]), int(payload.get("tv", 0)), signed_at.timestamp()
    except (AttributeError, BadSignature, KeyError, TypeError, ValueError):
        return None


def current_user_id() -> int:
    """The authenticated user's id from the token alone, or a 401 envelope (no query: the
    hot paths that only need the id, like scans, prove membership in their own query)."""
    user_id = user_id_from_request()
    if user_id is None:
        raise UNAUTHENTICATED()
    return user_id


def current_user() -> User:
    """The authenticated user, or a 401 envelope (also for a revoked token)."""
    user = g.get("linli_user")
    if user is not None:
        return user
    user = db.session.get(User, current_user_id())
    if user is None or user.token_version != token_version_from_request():
        raise UNAUTHENTICATED.saying("登录已失效，请重新登录")
    g.linli_user = user
    return user


def require_current_token(token_version: int | None) -> None:
    """For views that read the user's token version in their own query (the scans)."""
    if token_version is None or token_version != token_version_from_request():
        raise UNAUTHENTICATED.saying("登录已失效，请重新登录")


def verified_user_id() -> int | None:
    """The id of the user a current (not revoked) token names; None without a token."""
    return None if user_id_from_request() is None else current_user().id


def known_user_id() -> int | None:
    """Who the request's token names, as far as this request already checked (no query):
    for the request log line."""
    user = g.get("linli_user")
    if user is not None:
        # From the identity map's key: ``user.id`` would reload a user the request's
        # commit expired, one query per write just for the log line.
        return inspect(user).identity[0]
    claims = g.get("linli_token")
    return claims[0] if claims else None


def is_admin(user: User) -> bool:
    return user.openid in current_app.config["BOOTSTRAP_ADMIN_OPENIDS"]


# /metrics checks its own token or the caller's address (common/observability.py).
PUBLIC_ENDPOINTS = frozenset({"auth.wechat_login", "healthz", "readyz", "metrics",
                              "checkin.verify_certificate"})
# Views that check the token's version in their own query (the scan hot path's door query).
TOKEN_CHECKED_BY_VIEW = frozenset({"checkin.scan", "checkin.scan_batch"})
PUBLIC_PREFIXES = ("api-docs.", "mp.")  # the API docs; the mock mini-program's static pages


def require_login_for_api() -> None:
    """Authenticate before arguments are parsed: no token is a 401, whatever the body."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS or endpoint.startswith(PUBLIC_PREFIXES):
        return
    if request.method == "OPTIONS":
        return
    if endpoint in TOKEN_CHECKED_BY_VIEW:
        current_user_id()
    else:
        current_user()
