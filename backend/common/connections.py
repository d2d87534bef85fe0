"""Per-process connections to Redis and WeChat, created on first use and kept on the app."""

from __future__ import annotations

from flask import current_app
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from backend.wechat import WeChatClient, client_from_config

# What a Redis call may raise when Redis is slow or away. redis-py sometimes surfaces a
# timed-out handshake as ``ValueError: I/O operation on closed file`` (seen under load in
# the scans benchmark), so callers that fall back on Redis failures catch all three.
REDIS_FAILURES = (RedisError, OSError, ValueError)


def redis_connection() -> Redis:
    """Redis with short timeouts and no retries: when Redis is down we notice at once
    and fall back (the API must keep answering, SPEC §11)."""
    extensions = current_app.extensions
    if "linli_redis" not in extensions:
        extensions["linli_redis"] = Redis.from_url(
            current_app.config["REDIS_URL"], socket_timeout=1, socket_connect_timeout=1,
            retry=Retry(NoBackoff(), 0))
    return extensions["linli_redis"]


def wechat_client() -> WeChatClient:
    """One client per process, so the access token is fetched once and shared via Redis."""
    extensions = current_app.extensions
    base = current_app.config["WECHAT_API_BASE"]
    client = extensions.get("linli_wechat")
    if client is None or client.base_url != base.rstrip("/"):
        client = client_from_config(current_app.config, redis=redis_connection())
        extensions["linli_wechat"] = client
    return client
