"""Settings, read from ``LINLI_*`` environment variables in one place (SPEC §12)."""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any
from urllib.parse import urlsplit

ENVIRONMENTS = ("development", "test", "production")
LOG_FORMATS = ("json", "text")
DEV_SECRET_KEY = "dev-only-linli-secret-key"
# What the WeChat platform base is in development: the mock (miniprogram_mock.wx_server).
MOCK_WECHAT_API_BASE = "http://127.0.0.1:8001"
# itsdangerous signs tokens with HMAC-SHA1 over the key: a short key is guessable offline.
MIN_SECRET_KEY_LENGTH = 32
DEV_WECHAT_APPID = "wx_dev_linli"
DEV_WECHAT_SECRET = "dev-wechat-secret"
# Ed25519 seed (base64url, 32 bytes) that signs check-in codes; dev/test only.
DEV_CHECKIN_SIGNING_KEY = "bGlubGktZGV2LWNoZWNraW4tc2lnbmluZy1rZXkhISE"

# Template ids are assigned per mini-program by WeChat; these dev values match the mock.
DEFAULT_TEMPLATE_IDS = {
    "signup_confirmed": "tmpl-signup-confirmed",
    "waitlist_promoted": "tmpl-waitlist-promoted",
    "activity_reminder": "tmpl-activity-reminder",
    "activity_cancelled": "tmpl-activity-cancelled",
    "points_credited": "tmpl-points-credited",
    "gift_ready": "tmpl-gift-ready",
    "roster_published": "tmpl-roster-published",
    "shift_reminder": "tmpl-shift-reminder",
    "swap_request": "tmpl-swap-request",
    "need_update": "tmpl-need-update",
    "evaluation_invite": "tmpl-evaluation-invite",
}


class ConfigError(RuntimeError):
    """Raised when the settings are unsafe for the chosen environment."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    value = _env(name, str(default))
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None


def _float(name: str, default: float) -> float:
    value = _env(name, str(default))
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {value!r}") from None


def _flag(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    if value.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ConfigError(f"{name} must be on or off (1/0, true/false), not {value!r}")
    return value.lower() in ("1", "true", "yes", "on")


def load_settings(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config from the environment, then apply ``overrides``; refuse
    settings that are unsafe or meaningless (``ConfigError``) rather than guess."""
    env = (overrides or {}).get("LINLI_ENV") or _env("LINLI_ENV", "development")
    if env not in ENVIRONMENTS:
        # Anything else (e.g. "prod", "Production") must not start as development.
        raise ConfigError(f"LINLI_ENV must be exactly one of {', '.join(ENVIRONMENTS)}, "
                          f"not {env!r}")
    settings: dict[str, Any] = {
        "LINLI_ENV": env,
        "SQLALCHEMY_DATABASE_URI": _env("LINLI_DATABASE_URL", "sqlite:///instance/linli.db"),
        # A pooled PostgreSQL connection idle this long is pinged before use (see database.py).
        "DATABASE_PING_AFTER_IDLE_S": float(_env("LINLI_DATABASE_PING_AFTER_IDLE_S", "10")),
        # Reports read from this streaming replica when it answers and keeps up (issue #19).
        "SQLALCHEMY_REPLICA_URI": _env("LINLI_DATABASE_REPLICA_URL"),
        # A replica further behind than this (seconds) is passed over: reports read the primary.
        "REPLICA_MAX_LAG_S": _float("LINLI_REPLICA_MAX_LAG_S", 30),
        "REPLICA_CONNECT_TIMEOUT_S": _int("LINLI_REPLICA_CONNECT_TIMEOUT_S", 2),
        "REDIS_URL": _env("LINLI_REDIS_URL", "redis://127.0.0.1:6379/0"),
        # No default in production: the mock is only ever a development stand-in.
        "WECHAT_API_BASE": _env("LINLI_WECHAT_API_BASE",
                                None if env == "production" else MOCK_WECHAT_API_BASE),
        "WECHAT_APPID": _env("LINLI_WECHAT_APPID", DEV_WECHAT_APPID),
        "WECHAT_SECRET": _env("LINLI_WECHAT_SECRET", DEV_WECHAT_SECRET),
        "SECRET_KEY": _env("LINLI_SECRET_KEY", DEV_SECRET_KEY),
        "BOOTSTRAP_ADMIN_OPENIDS": _split(_env("LINLI_BOOTSTRAP_ADMIN_OPENIDS", "")),
        "TOKEN_MAX_AGE_S": _int("LINLI_TOKEN_MAX_AGE_S", 30 * 24 * 3600),
        # Flask/Werkzeug answer a larger request body with 413 before anything parses it.
        "MAX_CONTENT_LENGTH": _int("LINLI_MAX_CONTENT_LENGTH", 512 * 1024),
        # The mock mini-program pages at /mp/ (never in production).
        "MOCK_PAGES": _flag("LINLI_MOCK_PAGES", env != "production"),
        # Notifications (SPEC §9): quiet hours in community time, RQ back-off in seconds.
        "QUIET_HOURS": _env("LINLI_QUIET_HOURS", "22:00-07:00"),
        "NOTIFY_RETRY_INTERVALS": [int(x) for x in _split(
            _env("LINLI_NOTIFY_RETRY_INTERVALS", "10,60,300,900"))],
        # A claimed send older than this was interrupted (worker killed): staff decide.
        "NOTIFY_SEND_LEASE_S": _int("LINLI_NOTIFY_SEND_LEASE_S", 120),
        "OUTBOX_DRAIN_INTERVAL_S": _int("LINLI_OUTBOX_DRAIN_INTERVAL_S", 30),
        # Open needs (SPEC §9a) one resident may post per local day.
        "NEEDS_PER_DAY": _int("LINLI_NEEDS_PER_DAY", 3),
        # The evaluation invitations look over 14 days of activities: no need every 30 s.
        "EVALUATION_INVITE_INTERVAL_S": _int("LINLI_EVALUATION_INVITE_INTERVAL_S", 900),
        # Rows younger than this are being enqueued by their own request; the drain waits.
        "OUTBOX_SETTLE_S": _int("LINLI_OUTBOX_SETTLE_S", 10),
        # A notice handed to RQ this long ago and still pending was lost with Redis's data
        # (a restart without persistence): the drain hands it over again.
        "OUTBOX_REQUEUE_AFTER_S": _int("LINLI_OUTBOX_REQUEUE_AFTER_S", 600),
        # Subscription grants (SPEC §9): unspent ones a user may hold per template, and how
        # long spent ones are kept before the retention sweep deletes them.
        "MAX_OPEN_GRANTS": _int("LINLI_MAX_OPEN_GRANTS", 50),
        "GRANT_KEEP_DAYS": _int("LINLI_GRANT_KEEP_DAYS", 30),
        # Idempotency keys (SPEC §2) are answered again for this long, then swept.
        "IDEMPOTENCY_KEEP_H": _int("LINLI_IDEMPOTENCY_KEEP_H", 24),
        # Parking duty (SPEC §8): a member may check in this many minutes before the shift.
        "DUTY_CHECKIN_EARLY_MIN": _int("LINLI_DUTY_CHECKIN_EARLY_MIN", 30),
        # Logins per minute from one address, and per WeChat user (openid) from anywhere.
        "LOGIN_RATE_PER_MIN": _int("LINLI_LOGIN_RATE_PER_MIN", 30),
        "LOGIN_USER_RATE_PER_MIN": _int("LINLI_LOGIN_USER_RATE_PER_MIN", 10),
        # Check-in (SPEC §5): code signing key, scan window around the activity, limits.
        "CHECKIN_SIGNING_KEY": _env("LINLI_CHECKIN_SIGNING_KEY", DEV_CHECKIN_SIGNING_KEY),
        "CHECKIN_EARLY_MIN": _int("LINLI_CHECKIN_EARLY_MIN", 30),
        "CHECKIN_LATE_MIN": _int("LINLI_CHECKIN_LATE_MIN", 120),
        "OFFLINE_UPLOAD_MAX_H": _int("LINLI_OFFLINE_UPLOAD_MAX_H", 48),
        "SCAN_RATE_PER_MIN": _int("LINLI_SCAN_RATE_PER_MIN", 600),
        # Raw scans of finished, fully decided activities are deleted after this many days.
        "SCAN_KEEP_DAYS": _int("LINLI_SCAN_KEEP_DAYS", 90),
        # How many proxies (nginx, a load balancer) sit in front of gunicorn: each adds
        # itself to X-Forwarded-For, and the rate limits count the address before them.
        "PROXY_COUNT": _int("LINLI_PROXY_COUNT", 0),
        # Logs on stderr: one JSON object per line for a log shipper, or text for a person.
        "LOG_FORMAT": _env("LINLI_LOG_FORMAT", "json" if env == "production" else "text"),
        # Bearer token for GET /metrics; without it only an unproxied loopback caller scrapes.
        "METRICS_TOKEN": _env("LINLI_METRICS_TOKEN"),
        # GET /readyz answers within this: a check still running by then has failed.
        "READYZ_TIMEOUT_S": _float("LINLI_READYZ_TIMEOUT_S", 2),
        "TEMPLATE_IDS": {
            key: _env(f"LINLI_TEMPLATE_{key.upper()}", default)
            for key, default in DEFAULT_TEMPLATE_IDS.items()
        },
        "JSON_AS_ASCII": False,
        "API_TITLE": "Linli 邻里 API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
    }
    settings.update(overrides or {})
    if isinstance(settings["BOOTSTRAP_ADMIN_OPENIDS"], str):
        settings["BOOTSTRAP_ADMIN_OPENIDS"] = _split(settings["BOOTSTRAP_ADMIN_OPENIDS"])
    _refuse_dev_secrets_in_production(settings)
    _check_signing_key(settings["CHECKIN_SIGNING_KEY"])
    _check_scan_retention(settings)
    _check_replica(settings)
    if not 0 < settings["READYZ_TIMEOUT_S"] <= 30:
        raise ConfigError("LINLI_READYZ_TIMEOUT_S must be more than 0 and at most 30 seconds")
    if settings["LOG_FORMAT"] not in LOG_FORMATS:
        raise ConfigError(f"LINLI_LOG_FORMAT must be json or text, not {settings['LOG_FORMAT']!r}")
    return settings


def _check_replica(settings: dict[str, Any]) -> None:
    """A replica is a PostgreSQL standby of a PostgreSQL primary; the bounds are positive."""
    if settings["REPLICA_MAX_LAG_S"] < 0:
        raise ConfigError("LINLI_REPLICA_MAX_LAG_S must be 0 or more seconds")
    if settings["REPLICA_CONNECT_TIMEOUT_S"] < 1:
        raise ConfigError("LINLI_REPLICA_CONNECT_TIMEOUT_S must be 1 or more seconds")
    replica = settings["SQLALCHEMY_REPLICA_URI"]
    if not replica:
        return
    if not str(replica).startswith("postgresql"):
        raise ConfigError("LINLI_DATABASE_REPLICA_URL must be a PostgreSQL URL "
                          "(a streaming standby of LINLI_DATABASE_URL)")
    if not str(settings["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        raise ConfigError("LINLI_DATABASE_REPLICA_URL needs a PostgreSQL LINLI_DATABASE_URL: "
                          "SQLite has no replicas")


def _check_signing_key(seed: str) -> None:
    """An Ed25519 seed is 32 bytes; anything else would fail at the first check-in code."""
    try:
        raw = base64.urlsafe_b64decode(seed + "=" * (-len(seed) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ConfigError("LINLI_CHECKIN_SIGNING_KEY must be 32 bytes, base64url-encoded")


def _check_scan_retention(settings: dict[str, Any]) -> None:
    """A scan deleted while its offline upload could still arrive would be counted twice."""
    accepted_for_h = settings["OFFLINE_UPLOAD_MAX_H"] + settings["CHECKIN_LATE_MIN"] / 60
    if settings["SCAN_KEEP_DAYS"] * 24 <= accepted_for_h:
        raise ConfigError("LINLI_SCAN_KEEP_DAYS must be longer than scans are accepted "
                          f"after an activity (LINLI_OFFLINE_UPLOAD_MAX_H + LINLI_CHECKIN_LATE_MIN"
                          f" = {accepted_for_h:g} h)")


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _check_wechat_base(base: str | None) -> None:
    """Production talks to WeChat over https. Plain http only to a loopback address that was
    set on purpose (a local egress proxy, or a benchmark's stand-in): never the mock's
    default, which is what a forgotten setting would mean."""
    if not base or base.rstrip("/") == MOCK_WECHAT_API_BASE:
        raise ConfigError("LINLI_WECHAT_API_BASE must be set in production "
                          "(https://api.weixin.qq.com); the mock is for development")
    parts = urlsplit(base)
    if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError("LINLI_WECHAT_API_BASE must use https in production "
                          "(plain http is only accepted to a loopback address)")


def _refuse_dev_secrets_in_production(settings: dict[str, Any]) -> None:
    if settings["LINLI_ENV"] != "production":
        return
    if settings["SECRET_KEY"] == DEV_SECRET_KEY:
        raise ConfigError("LINLI_SECRET_KEY must be set in production")
    if len(settings["SECRET_KEY"]) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"LINLI_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} "
                          "characters in production (e.g. python -c 'import secrets; "
                          "print(secrets.token_urlsafe(32))')")
    _check_wechat_base(settings["WECHAT_API_BASE"])
    if settings["MOCK_PAGES"]:
        raise ConfigError("LINLI_MOCK_PAGES cannot be on in production: the mock pages log "
                          "in through the mock WeChat platform")
    if settings["WECHAT_SECRET"] == DEV_WECHAT_SECRET:
        raise ConfigError("LINLI_WECHAT_SECRET must be set in production")
    if settings["CHECKIN_SIGNING_KEY"] == DEV_CHECKIN_SIGNING_KEY:
        raise ConfigError("LINLI_CHECKIN_SIGNING_KEY must be set in production")
    if settings["WECHAT_APPID"] == DEV_WECHAT_APPID:
        raise ConfigError("LINLI_WECHAT_APPID must be set in production")
