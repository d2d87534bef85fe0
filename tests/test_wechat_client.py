"""backend.wechat's client against the mock WeChat platform over real HTTP, with a real Redis
(``redis_url`` from conftest) shared the way several processes share it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import redis as redis_lib
import requests
from redis.backoff import NoBackoff
from redis.retry import Retry

from backend.wechat import (
    InvalidLoginCode,
    WeChatClient,
    WeChatError,
    WeChatUnavailable,
    client_from_config,
)
from backend.wechat.client import TOKEN_KEY
from miniprogram_mock.wx_server import start_in_thread

APPID = "wx_dev_linli"
SECRET = "dev-wechat-secret"
TEMPLATE = "tmpl-shift-reminder"
SEND = "/cgi-bin/message/subscribe/send"
TOKEN = "/cgi-bin/stable_token"
DATA = {"thing1": "停车场东门值班", "time2": "2024-05-01 07:00~15:00"}


@pytest.fixture(scope="module")
def mock_base() -> Iterator[str]:
    base_url, stop = start_in_thread()
    yield base_url
    stop()


class Mock:
    """The mock's /_mock controls."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def post(self, control: str, **body) -> dict:
        response = requests.post(f"{self.base_url}/_mock/{control}", json=body, timeout=5)
        response.raise_for_status()
        return response.json()

    def login_code(self, openid: str, **extra) -> str:
        return self.post("login-code", openid=openid, **extra)["code"]

    def subscribe(self, openid: str, template_id: str = TEMPLATE) -> None:
        self.post("subscribe", openid=openid, template_id=template_id)

    def fault(self, path: str, **fault) -> None:
        self.post("faults", path=path, **fault)

    def calls(self, path: str) -> int:
        stats = requests.get(f"{self.base_url}/_mock/stats", timeout=5).json()
        return stats["calls"].get(path, 0)

    def messages(self, openid: str) -> list[dict]:
        url = f"{self.base_url}/_mock/messages"
        return requests.get(url, params={"openid": openid}, timeout=5).json()["items"]


@pytest.fixture
def mock(mock_base) -> Mock:
    control = Mock(mock_base)
    control.post("reset")
    return control


@pytest.fixture
def shared_redis(redis_url) -> Iterator[redis_lib.Redis]:
    connection = redis_lib.Redis.from_url(redis_url)
    yield connection
    connection.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_client(base_url: str, redis=None, **kw) -> WeChatClient:
    return WeChatClient(base_url, APPID, SECRET, redis=redis, **kw)


# -- code2Session ---------------------------------------------------------------------


def test_code_to_session_returns_openid_session_key_and_unionid(mock):
    code = mock.login_code("o-alice", unionid="u-alice")
    session = make_client(mock.base_url).code_to_session(code)
    assert session["openid"] == "o-alice"
    assert session["unionid"] == "u-alice"
    assert session["session_key"]


@pytest.mark.parametrize("reuse", [True, False])
def test_used_or_unknown_login_code_is_invalid_login_code(mock, reuse):
    client = make_client(mock.base_url)
    code = mock.login_code("o-alice") if reuse else "never-issued"
    if reuse:
        client.code_to_session(code)
    with pytest.raises(InvalidLoginCode) as caught:
        client.code_to_session(code)
    assert caught.value.errcode == (40163 if reuse else 40029)
    assert not caught.value.retryable


def test_blocked_login_code_is_invalid_login_code(mock):
    mock.fault("/sns/jscode2session", errcode=40226)
    with pytest.raises(InvalidLoginCode) as caught:
        make_client(mock.base_url).code_to_session(mock.login_code("o-alice"))
    assert caught.value.errcode == 40226


def test_wrong_secret_is_a_plain_wechat_error(mock):
    client = WeChatClient(mock.base_url, APPID, "wrong-secret")
    with pytest.raises(WeChatError) as caught:
        client.code_to_session(mock.login_code("o-alice"))
    assert type(caught.value) is WeChatError
    assert caught.value.errcode == 40125


# -- the shared access token ----------------------------------------------------------


def test_token_is_cached_in_redis_for_expires_in_minus_five_minutes(mock, shared_redis):
    token = make_client(mock.base_url, shared_redis).access_token()
    key = TOKEN_KEY.format(appid=APPID)
    assert shared_redis.get(key).decode() == token
    assert 6890 <= shared_redis.ttl(key) <= 6900


def test_two_processes_sharing_redis_fetch_the_token_once(mock, redis_url):
    # Slow token answers widen the race: without the Redis lock every thread would fetch.
    mock.fault(TOKEN, delay_s=0.3, times=20)
    clients = [make_client(mock.base_url, redis_lib.Redis.from_url(redis_url)) for _ in range(2)]
    start = threading.Barrier(8)
    tokens: list[str] = []

    def fetch(client: WeChatClient) -> None:
        start.wait()
        tokens.append(client.access_token())

    threads = [threading.Thread(target=fetch, args=(clients[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tokens) == 8 and len(set(tokens)) == 1
    assert mock.calls(TOKEN) == 1


def test_a_second_process_reuses_the_token_in_redis(mock, redis_url):
    first = make_client(mock.base_url, redis_lib.Redis.from_url(redis_url))
    second = make_client(mock.base_url, redis_lib.Redis.from_url(redis_url))
    assert first.access_token() == second.access_token()
    assert mock.calls(TOKEN) == 1


def test_expired_token_is_refreshed_once_and_the_send_succeeds(mock, shared_redis):
    client = make_client(mock.base_url, shared_redis)
    mock.subscribe("o-alice")
    old = client.access_token()
    mock.post("clock", advance_s=7300)  # WeChat's token expired, our cached copy has not
    msgid = client.send_subscribe_message("o-alice", TEMPLATE, DATA, page="pages/duty/shifts")
    assert mock.calls(TOKEN) == 2
    assert mock.calls(SEND) == 2  # 42001, then the retry
    assert client.access_token() != old
    [message] = mock.messages("o-alice")
    assert message["msgid"] == msgid
    assert message["data"]["thing1"] == {"value": "停车场东门值班"}
    assert message["page"] == "pages/duty/shifts"


def test_token_revoked_elsewhere_40001_is_refreshed(mock, shared_redis):
    client = make_client(mock.base_url, shared_redis)
    mock.subscribe("o-alice")
    client.access_token()
    body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    requests.post(f"{mock.base_url}{TOKEN}", json={**body, "force_refresh": True}, timeout=5)
    assert client.send_subscribe_message("o-alice", TEMPLATE, DATA) > 0


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_each_token_errcode_is_refreshed_once_and_retried(mock, shared_redis, errcode):
    client = make_client(mock.base_url, shared_redis)
    mock.subscribe("o-alice")
    stale = client.access_token()
    mock.fault(SEND, errcode=errcode)  # 40014: "invalid access_token"
    assert client.send_subscribe_message("o-alice", TEMPLATE, DATA) is not None
    assert mock.calls(SEND) == 2
    assert mock.calls(TOKEN) == 2  # our copy was dropped and fetched again
    assert shared_redis.get(TOKEN_KEY.format(appid=APPID)) is not None
    assert len(mock.messages("o-alice")) == 1
    assert client.access_token() == stale  # the platform still had the same stable token


def test_token_error_after_the_retry_is_raised_and_retryable(mock, shared_redis):
    mock.subscribe("o-alice")
    mock.fault(SEND, errcode=42001, times=2)
    with pytest.raises(WeChatError) as caught:
        make_client(mock.base_url, shared_redis).send_subscribe_message("o-alice", TEMPLATE, DATA)
    assert caught.value.errcode == 42001
    assert caught.value.retryable
    assert mock.calls(SEND) == 2  # retried once, not more


def test_stale_invalidation_keeps_the_fresh_token(mock, shared_redis):
    client = make_client(mock.base_url, shared_redis)
    fresh = client.access_token()
    client.invalidate_token("some-older-token")
    assert client.access_token() == fresh
    client.invalidate_token()
    assert shared_redis.get(TOKEN_KEY.format(appid=APPID)) is None


def test_waiter_fetches_itself_when_the_lock_holder_dies(mock, shared_redis):
    lock_key = TOKEN_KEY.format(appid=APPID) + ":lock"
    shared_redis.set(lock_key, "dead-process", px=300)
    assert make_client(mock.base_url, shared_redis).access_token()
    assert mock.calls(TOKEN) == 1


def unreachable_redis() -> redis_lib.Redis:
    # Fail fast: redis-py's default retries would make each refused connect take seconds.
    return redis_lib.Redis(host="127.0.0.1", port=closed_port(), retry=Retry(NoBackoff(), 0))


def test_unreachable_redis_falls_back_to_the_process_cache(mock):
    client = make_client(mock.base_url, unreachable_redis())
    mock.subscribe("o-alice")
    mock.subscribe("o-alice")
    client.send_subscribe_message("o-alice", TEMPLATE, DATA)
    client.send_subscribe_message("o-alice", TEMPLATE, DATA)
    assert mock.calls(TOKEN) == 1
    assert len(mock.messages("o-alice")) == 2


def test_redis_found_down_is_skipped_for_a_while(mock, monkeypatch):
    down = unreachable_redis()
    make_client(mock.base_url, down).access_token()
    monkeypatch.setattr(down, "pipeline", lambda **kw: pytest.fail("Redis asked again"))
    monkeypatch.setattr(down, "set", lambda *a, **kw: pytest.fail("Redis asked again"))
    assert make_client(mock.base_url, down).access_token()  # a new client, same server


def test_without_redis_the_token_is_cached_in_process(mock):
    client = make_client(mock.base_url)
    assert client.access_token() == client.access_token()
    assert mock.calls(TOKEN) == 1


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errcode", "retryable"),
    [(-1, True), (45011, True), (43101, False), (47003, False), (40003, False), (41030, False)],
)
def test_send_errcodes_map_to_wechat_error(mock, errcode, retryable):
    mock.fault(SEND, errcode=errcode)
    with pytest.raises(WeChatError) as caught:
        make_client(mock.base_url).send_subscribe_message("o-alice", TEMPLATE, DATA)
    assert type(caught.value) is WeChatError
    assert caught.value.errcode == errcode
    assert caught.value.retryable is retryable


@pytest.mark.parametrize("fmt", ["int", "string"])
def test_msgid_is_read_as_a_number_or_its_text(mock, fmt):
    mock.subscribe("o-alice")
    mock.post("msgid-format", format=fmt)
    msgid = make_client(mock.base_url).send_subscribe_message("o-alice", TEMPLATE, DATA)
    [message] = mock.messages("o-alice")
    assert msgid == message["msgid"] and isinstance(msgid, int)


def test_a_send_without_msgid_is_still_sent(mock):
    mock.subscribe("o-alice")
    mock.post("msgid-format", format="missing")
    assert make_client(mock.base_url).send_subscribe_message("o-alice", TEMPLATE, DATA) is None
    assert len(mock.messages("o-alice")) == 1


def test_template_the_mini_program_lacks_is_40037_and_not_retryable(mock):
    client = make_client(mock.base_url)
    mock.login_code("o-alice")
    with pytest.raises(WeChatError) as caught:
        client.send_subscribe_message("o-alice", "tmpl-shift-remindr", DATA)
    assert caught.value.errcode == 40037 and not caught.value.retryable
    mock.post("templates", template_id="tmpl-shift-remindr")
    mock.subscribe("o-alice", "tmpl-shift-remindr")
    assert client.send_subscribe_message("o-alice", "tmpl-shift-remindr", DATA) > 0


def test_real_refusals_come_through(mock):
    client = make_client(mock.base_url)
    mock.login_code("o-alice")
    with pytest.raises(WeChatError) as no_credit:
        client.send_subscribe_message("o-alice", TEMPLATE, DATA)
    mock.subscribe("o-alice")
    with pytest.raises(WeChatError) as too_long:
        client.send_subscribe_message("o-alice", TEMPLATE, {"thing1": "长" * 21})
    assert no_credit.value.errcode == 43101
    assert too_long.value.errcode == 47003
    assert "data.thing1.value" in too_long.value.errmsg


def test_timeout_is_unavailable(mock):
    mock.fault("/sns/jscode2session", delay_s=1.0)
    client = make_client(mock.base_url, timeout=0.2)
    with pytest.raises(WeChatUnavailable) as caught:
        client.code_to_session(mock.login_code("o-alice"))
    assert caught.value.retryable
    assert caught.value.errcode is None


def test_connection_refused_is_unavailable():
    client = make_client(f"http://127.0.0.1:{closed_port()}", timeout=1)
    with pytest.raises(WeChatUnavailable):
        client.code_to_session("any")
    with pytest.raises(WeChatUnavailable):
        client.access_token()


def test_http_error_page_is_unavailable(mock):
    mock.fault(TOKEN, status=502)
    with pytest.raises(WeChatUnavailable) as caught:
        make_client(mock.base_url).access_token()
    assert "502" in caught.value.errmsg


# -- codes and phone numbers ----------------------------------------------------------


def test_get_unlimited_code_returns_png(mock):
    png = make_client(mock.base_url).get_unlimited_code("c=42&s=Zq", page="pages/duty/shifts")
    assert png.startswith(b"\x89PNG")


def test_code_for_an_unreleased_page_is_41030_unless_check_path_is_off(mock):
    client = make_client(mock.base_url)
    with pytest.raises(WeChatError) as caught:
        client.get_unlimited_code("c=42", page="pages/duty/new-page")
    assert caught.value.errcode == 41030 and not caught.value.retryable
    png = client.get_unlimited_code("c=42", page="pages/duty/new-page", check_path=False,
                                    env_version="develop")
    assert png.startswith(b"\x89PNG")
    codes = requests.get(f"{mock.base_url}/_mock/codes", timeout=5).json()["items"]
    assert [(c["page"], c["env_version"], c["check_path"]) for c in codes] == [
        ("pages/duty/new-page", "develop", False)]


def test_get_unlimited_code_error_is_raised(mock):
    with pytest.raises(WeChatError) as caught:
        make_client(mock.base_url).get_unlimited_code("x" * 33)
    assert caught.value.errcode == 40169


def test_get_phone_number(mock):
    code = mock.post("phone-code", openid="o-alice", phone="13800138000")["code"]
    client = make_client(mock.base_url)
    assert client.get_phone_number(code) == "13800138000"
    with pytest.raises(WeChatError) as caught:
        client.get_phone_number(code)
    assert caught.value.errcode == 40029


def test_client_from_config(mock):
    config = {
        "WECHAT_API_BASE": mock.base_url + "/",
        "WECHAT_APPID": APPID,
        "WECHAT_SECRET": SECRET,
    }
    client = client_from_config(config)
    assert client.code_to_session(mock.login_code("o-alice"))["openid"] == "o-alice"
