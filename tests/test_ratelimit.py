"""Rate limits fail open when Redis misbehaves in any of the ways redis-py reports it."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from backend.common import ratelimit


class BrokenPipeline:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def incr(self, key):
        return self

    def expire(self, key, seconds):
        return self

    def execute(self):
        raise self.error


@pytest.mark.parametrize("error", [RedisConnectionError("down"), TimeoutError("slow"),
                                   ValueError("I/O operation on closed file.")])
def test_a_broken_redis_does_not_refuse_or_crash(app, monkeypatch, error):
    class BrokenRedis:
        def pipeline(self, transaction=True):
            return BrokenPipeline(error)

    monkeypatch.setattr(ratelimit, "redis_connection", lambda: BrokenRedis())
    with app.test_request_context():
        ratelimit.enforce_each("scan", {"user:1": 1, "ip:x": 1})  # no exception: fail open
