"""Client for the WeChat platform API: the real platform or the mock at ``WECHAT_API_BASE``.

The access token is shared by every process through Redis (WeChat wants one central
holder of the token) and falls back to an in-process copy when Redis is down, so that
the backend keeps working without Redis.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

T = TypeVar("T")

TOKEN_KEY = "linli:wechat:token:{appid}"
# Bad (40001: unknown or not the latest), invalid (40014) or expired (42001) token:
# refresh it and retry once, as wechatpy does.
_TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
_RETRYABLE_ERRCODES = frozenset({-1, 45011}) | _TOKEN_ERRCODES
_LOGIN_CODE_ERRCODES = frozenset({40029, 40163, 40226})
_TOKEN_MARGIN_S = 300  # drop our copy 5 min early: WeChat renews the token in that window
# Once a Redis server is found down, skip it for a while: redis-py's default retries make
# each failed command cost seconds. Shared by every client in the process.
_REDIS_RETRY_AFTER_S = 10.0
_redis_down_until: dict[tuple[Any, ...], float] = {}
_LOCK_POLL_S = 0.05
_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
_UNREACHABLE = object()
# Delete a key only if it still holds our value (stale token, our own lock).
_DELETE_IF_EQUAL = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class WeChatError(Exception):
    """The platform answered with a non-zero ``errcode``."""

    def __init__(self, errcode: int | None, errmsg: str) -> None:
        super().__init__(f"WeChat error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def retryable(self) -> bool:
        """Worth trying again later (system busy, rate limit, token trouble)."""
        return self.errcode in _RETRYABLE_ERRCODES


class WeChatUnavailable(WeChatError):
    """No usable answer: network error, timeout, HTTP error or a body that isn't JSON."""

    def __init__(self, errmsg: str) -> None:
        super().__init__(None, errmsg)

    @property
    def retryable(self) -> bool:
        return True


class InvalidLoginCode(WeChatError):
    """code2Session refused the ``wx.login`` code (invalid, already used, blocked)."""


class _TokenStore:
    """The token in Redis (shared by all processes) with an in-process copy as fallback."""

    def __init__(self, redis: Redis | None, appid: str, lock_ttl_s: float) -> None:
        self._redis = redis
        self.key = TOKEN_KEY.format(appid=appid)
        self.lock_key = f"{self.key}:lock"
        self.lock_ttl_s = lock_ttl_s
        self._local: tuple[str, float] | None = None  # (token, monotonic expiry)
        self._address = _redis_address(redis) if redis else ()
        self._delete_if_equal = redis.register_script(_DELETE_IF_EQUAL) if redis else None

    def _with_redis(self, action: Callable[[Redis], T], fallback: T) -> T:
        if self._redis is None or time.monotonic() < _redis_down_until.get(self._address, 0):
            return fallback
        try:
            return action(self._redis)
        except _REDIS_DOWN as exc:
            log.warning("Redis unreachable, using the in-process WeChat token: %s", exc)
            _redis_down_until[self._address] = time.monotonic() + _REDIS_RETRY_AFTER_S
            return fallback

    def get(self) -> str | None:
        shared = self._with_redis(self._read_shared, fallback=_UNREACHABLE)
        if shared is not _UNREACHABLE:
            return shared
        if self._local and self._local[1] > time.monotonic():
            return self._local[0]
        return None

    def _read_shared(self, redis: Redis) -> Any:
        pipe = redis.pipeline(transaction=False)
        token, ttl_ms = pipe.get(self.key).pttl(self.key).execute()
        if not token or ttl_ms <= 0:
            self._local = None  # another process invalidated it
            return None
        token = _text(token)
        self._local = (token, time.monotonic() + ttl_ms / 1000)
        return token

    def put(self, token: str, ttl_s: int) -> None:
        self._local = (token, time.monotonic() + ttl_s)
        self._with_redis(lambda r: r.set(self.key, token, ex=ttl_s), None)

    def discard(self, token: str | None = None) -> None:
        """Forget the token; with ``token``, only if it is still that (stale) one."""
        if token is None or (self._local and self._local[0] == token):
            self._local = None
        if token is None:
            self._with_redis(lambda r: r.delete(self.key), None)
        else:
            self._with_redis(lambda r: self._delete_if_equal(keys=[self.key], args=[token]), None)

    def lock(self) -> str | None:
        """Take the cross-process fetch lock: its id, "" without Redis, None if held."""
        lock_id = uuid.uuid4().hex
        ttl_ms = int(self.lock_ttl_s * 1000)
        taken = self._with_redis(lambda r: r.set(self.lock_key, lock_id, nx=True, px=ttl_ms), "")
        if taken == "":
            return ""
        return lock_id if taken else None

    def unlock(self, lock_id: str) -> None:
        if lock_id:
            self._with_redis(
                lambda r: self._delete_if_equal(keys=[self.lock_key], args=[lock_id]), 0
            )

    def wait_for_other_fetch(self) -> str | None:
        """Poll while another process holds the lock; its token, or None if it gave up."""
        deadline = time.monotonic() + self.lock_ttl_s
        while time.monotonic() < deadline:
            token = self.get()
            if token or not self._with_redis(lambda r: r.exists(self.lock_key), 0):
                return token
            time.sleep(_LOCK_POLL_S)
        return None


class WeChatClient:
    """Calls the WeChat platform at ``base_url``; one instance per process is enough."""

    def __init__(
        self,
        base_url: str,
        appid: str,
        secret: str,
        redis: Redis | None = None,
        timeout: float = 5.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.appid = appid
        self._secret = secret
        self.timeout = timeout
        self._http = session or requests.Session()
        self._tokens = _TokenStore(redis, appid, lock_ttl_s=timeout + 1.0)
        self._fetch_lock = threading.Lock()

    # -- login, phone number ----------------------------------------------------------

    def code_to_session(self, code: str) -> dict[str, str]:
        """``wx.login`` code → ``{"openid", "session_key", "unionid"?}``."""
        params = {
            "appid": self.appid,
            "secret": self._secret,
            "js_code": code,
            "grant_type": "authorization_code",
        }
        try:
            body = self._request("GET", "/sns/jscode2session", params=params)
        except WeChatError as exc:
            if exc.errcode in _LOGIN_CODE_ERRCODES:
                raise InvalidLoginCode(exc.errcode, exc.errmsg) from exc
            raise
        return {k: body[k] for k in ("openid", "session_key", "unionid") if k in body}

    def get_phone_number(self, code: str) -> str:
        """A ``getPhoneNumber`` button code → the user's phone number."""
        body = self._request_with_token("POST", "/wxa/business/getuserphonenumber", {"code": code})
        return body["phone_info"]["phoneNumber"]

    # -- subscribe messages, mini-program codes ---------------------------------------

    def send_subscribe_message(
        self,
        openid: str,
        template_id: str,
        data: Mapping[str, str],
        page: str | None = None,
        state: str = "formal",
        lang: str = "zh_CN",
    ) -> int | None:
        """Send one subscribe message; returns WeChat's ``msgid`` (None if it sent none)."""
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
            "miniprogram_state": state,
            "lang": lang,
        }
        if page:
            payload["page"] = page
        body = self._request_with_token("POST", "/cgi-bin/message/subscribe/send", payload)
        return _msgid(body.get("msgid"))

    def get_unlimited_code(
        self,
        scene: str,
        page: str | None = None,
        width: int = 430,
        check_path: bool = True,
        env_version: str = "release",
    ) -> bytes:
        """A mini-program code image (PNG bytes) carrying ``scene`` (≤ 32 chars).

        ``check_path=False`` lets it point at a page not yet in the released version.
        """
        payload: dict[str, Any] = {
            "scene": scene,
            "width": width,
            "check_path": check_path,
            "env_version": env_version,
        }
        if page:
            payload["page"] = page
        image = self._request_with_token("POST", "/wxa/getwxacodeunlimit", payload, image=True)
        if not isinstance(image, bytes):
            raise WeChatUnavailable("getwxacodeunlimit: expected an image")
        return image

    # -- access token -----------------------------------------------------------------

    def access_token(self) -> str:
        """The current access token, fetched once and shared through Redis."""
        token = self._tokens.get()
        if token:
            return token
        with self._fetch_lock:  # one fetch per process; other threads reuse its result
            return self._tokens.get() or self._fetch_token_once()

    def invalidate_token(self, token: str | None = None) -> None:
        """Drop the cached token (only if it is still ``token``, when given)."""
        self._tokens.discard(token)

    def _fetch_token_once(self) -> str:
        lock_id = self._tokens.lock()
        if lock_id is None:  # another process is fetching: take its token
            token = self._tokens.wait_for_other_fetch()
            if token:
                return token
        try:
            return self._fetch_token()
        finally:
            if lock_id:
                self._tokens.unlock(lock_id)

    def _fetch_token(self) -> str:
        # stable_token: repeated calls return the same token instead of revoking the last.
        payload = {
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self._secret,
            "force_refresh": False,
        }
        body = self._request("POST", "/cgi-bin/stable_token", payload=payload)
        token = body["access_token"]
        self._tokens.put(token, max(int(body.get("expires_in", 7200)) - _TOKEN_MARGIN_S, 1))
        return token

    # -- HTTP -------------------------------------------------------------------------

    def _request_with_token(
        self, method: str, path: str, payload: dict[str, Any], image: bool = False
    ) -> Any:
        token = self.access_token()
        try:
            return self._request(method, path, {"access_token": token}, payload, image)
        except WeChatError as exc:
            if exc.errcode not in _TOKEN_ERRCODES:
                raise
            log.info("WeChat %s on %s: refreshing the access token", exc.errcode, path)
            self.invalidate_token(token)
            fresh = self.access_token()
            return self._request(method, path, {"access_token": fresh}, payload, image)

    def _request(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
        image: bool = False,
    ) -> Any:
        response = self._send(method, path, params, payload)
        if image and response.headers.get("Content-Type", "").startswith("image/"):
            return response.content
        try:
            body = response.json()
        except ValueError as exc:
            raise WeChatUnavailable(f"{path}: response is not JSON") from exc
        if not isinstance(body, dict):
            raise WeChatUnavailable(f"{path}: unexpected body")
        errcode = int(body.get("errcode") or 0)
        if errcode:
            raise WeChatError(errcode, str(body.get("errmsg", "")))
        return body

    def _send(
        self, method: str, path: str, params: dict[str, str] | None, payload: dict[str, Any] | None
    ) -> requests.Response:
        # Send JSON as UTF-8 text: some WeChat APIs mangle \uXXXX-escaped Chinese.
        data = None if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"} if data else None
        try:
            response = self._http.request(
                method,
                self.base_url + path,
                params=params,
                data=data,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise WeChatUnavailable(f"{path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise WeChatUnavailable(f"{path}: HTTP {response.status_code}")
        return response

    def close(self) -> None:
        self._http.close()


def client_from_config(config: Mapping[str, Any], redis: Redis | None = None) -> WeChatClient:
    """Build the client from Flask settings (``WECHAT_API_BASE``, ``WECHAT_APPID``, ...)."""
    return WeChatClient(
        config["WECHAT_API_BASE"],
        config["WECHAT_APPID"],
        config["WECHAT_SECRET"],
        redis=redis,
        timeout=float(config.get("WECHAT_TIMEOUT_S", 5.0)),
    )


_BIGINT_MAX = 2**63 - 1  # what the outbox column holds


def _msgid(value: Any) -> int | None:
    """``msgid`` as an int: WeChat documents a number, but answers have carried its text or
    left it out; errcode 0 means sent either way, so an odd msgid never fails the send."""
    if isinstance(value, bool):
        value = None
    elif isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 0 <= value <= _BIGINT_MAX:
        return value
    if value is not None:
        log.warning("WeChat sent msgid %r, which is not a number we can keep", value)
    return None


def _redis_address(redis: Redis) -> tuple[Any, ...]:
    kwargs = redis.connection_pool.connection_kwargs
    return (kwargs.get("host"), kwargs.get("port"), kwargs.get("path"))


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
