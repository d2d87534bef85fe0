"""Rate limits: counted per window in Redis, and failing open when Redis misbehaves in
any of the ways redis-py reports it."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from backend.common import ratelimit
from backend.common.connections import redis_connection
from backend.errors import ApiError


@pytest.mark.parametrize("error", [RedisConnectionError("down"), TimeoutError("slow"),
                                   ValueError("I/O operation on closed file.")])
def test_a_broken_redis_does_not_refuse_or_crash(app, monkeypatch, error):
    class BrokenRedis:
        def register_script(self, script):
            def run(keys, args):
                raise error
            return run

    monkeypatch.setattr(ratelimit, "redis_connection", lambda: BrokenRedis())
    with app.test_request_context():
        ratelimit.enforce_each("scan", {"user:1": 1, "ip:x": 1})  # no exception: fail open


def test_each_limit_is_counted_on_its_own_and_its_window_expires(app):
    with app.test_request_context():
        redis_connection().flushdb()
        for _ in range(3):
            ratelimit.enforce_each("probe", {"user:7": 3, "ip:a": 10})
        with pytest.raises(ApiError) as refused:
            ratelimit.enforce_each("probe", {"user:7": 3, "ip:a": 10})
        assert refused.value.status == 429
        assert 1 <= refused.value.details["retry_after_s"] <= ratelimit.WINDOW_S
        # Another user behind the same address is still under both limits.
        ratelimit.enforce_each("probe", {"user:8": 3, "ip:a": 10})
        keys = redis_connection().keys("linli:rate:probe:*")
        assert sorted(int(redis_connection().get(key)) for key in keys) == [1, 4, 5]
        assert all(0 < redis_connection().ttl(key) <= ratelimit.WINDOW_S + 5 for key in keys)


def test_a_forwarded_request_without_a_proxy_count_is_reported(app, monkeypatch, caplog):
    monkeypatch.setattr(ratelimit, "_proxy_warned", False)
    with app.test_request_context(headers={"X-Forwarded-For": "203.0.113.9"},
                                  environ_base={"REMOTE_ADDR": "10.0.0.1"}):
        assert ratelimit.client_ip() == "10.0.0.1"
    assert "LINLI_PROXY_COUNT" in caplog.text
