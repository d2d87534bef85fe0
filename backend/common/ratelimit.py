"""Redis-backed rate limits (SPEC §11), shared by every process that serves the API.

Fixed one-minute windows: a counter per (action, who, minute) with INCR and EXPIRE. If
Redis is down the limit is not enforced — refusing logins because a cache is away would
be the worse failure — and the outage is logged.
"""

from __future__ import annotations

import logging
import time

from flask import current_app, request

from backend.common.connections import REDIS_FAILURES, redis_connection
from backend.refusals import RATE_LIMITED

log = logging.getLogger(__name__)
WINDOW_S = 60
_proxy_warned = False  # once per process
# Count in every window key and let each expire after its window: one round trip, one
# command (redis-py sends it by its SHA and loads it on NOSCRIPT).
_COUNT = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  if counts[i] == 1 then redis.call('EXPIRE', key, ARGV[1]) end
end
return counts
"""


def enforce(action: str, who: str, per_minute: int) -> None:
    """Count one ``action`` by ``who``; over ``per_minute`` in this minute → 429."""
    enforce_each(action, {who: per_minute})


def enforce_each(action: str, limits: dict[str, int]) -> None:
    """Count one ``action`` against several limits (e.g. per user and per address) in one
    round trip to Redis; any of them exceeded → 429."""
    window = int(time.time() // WINDOW_S)
    keys = [f"linli:rate:{action}:{who}:{window}" for who in limits]
    try:
        counts = redis_connection().register_script(_COUNT)(keys=keys, args=[WINDOW_S + 5])
    except REDIS_FAILURES as error:
        log.warning("rate limit %s not enforced, Redis unavailable: %s", action, error)
        return
    if any(count > limit for count, limit in zip(counts, limits.values(), strict=True)):
        retry_after = WINDOW_S - int(time.time()) % WINDOW_S
        raise RATE_LIMITED(details={"retry_after_s": retry_after})


def client_ip() -> str:
    """The caller's address (behind a proxy, set LINLI_PROXY_COUNT so ProxyFix fills it)."""
    global _proxy_warned
    if (not _proxy_warned and not current_app.config["PROXY_COUNT"]
            and "X-Forwarded-For" in request.headers):
        # Every request then seems to come from the proxy: one rate-limit bucket for all.
        _proxy_warned = True
        log.warning("X-Forwarded-For received but LINLI_PROXY_COUNT is 0: rate limits count "
                    "the proxy's address for every caller; set LINLI_PROXY_COUNT to the "
                    "number of proxies in front of gunicorn")
    return request.remote_addr or "unknown"
