"""Settings come from LINLI_* variables; they fail closed: an unknown environment, and in
production the dev secrets, a short key, the mock WeChat base or the mock pages, refuse to
start (SPEC §11-12)."""

from __future__ import annotations

import pytest

from backend.config import ConfigError, load_settings

PRODUCTION_SECRETS = {"LINLI_SECRET_KEY": "s3cret-from-vault-0123456789abcdefghij",
                      "LINLI_WECHAT_APPID": "wx123",
                      "LINLI_WECHAT_SECRET": "real-wechat-secret",
                      "LINLI_CHECKIN_SIGNING_KEY": "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80",
                      "LINLI_WECHAT_API_BASE": "https://api.weixin.qq.com"}


@pytest.fixture
def environment(monkeypatch):
    for name in ("LINLI_ENV", "LINLI_DATABASE_URL", "LINLI_BOOTSTRAP_ADMIN_OPENIDS",
                 "LINLI_MOCK_PAGES", "LINLI_PROXY_COUNT", *PRODUCTION_SECRETS):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def production(environment):
    environment.setenv("LINLI_ENV", "production")
    for name, value in PRODUCTION_SECRETS.items():
        environment.setenv(name, value)
    return environment


def test_defaults_are_the_development_ones(environment):
    settings = load_settings()
    assert settings["LINLI_ENV"] == "development"
    assert settings["SQLALCHEMY_DATABASE_URI"] == "sqlite:///instance/linli.db"
    assert settings["WECHAT_API_BASE"] == "http://127.0.0.1:8001"
    assert settings["BOOTSTRAP_ADMIN_OPENIDS"] == []


def test_bootstrap_admins_are_a_comma_separated_list(environment):
    environment.setenv("LINLI_BOOTSTRAP_ADMIN_OPENIDS", " o-1, o-2,,")
    assert load_settings()["BOOTSTRAP_ADMIN_OPENIDS"] == ["o-1", "o-2"]


@pytest.mark.parametrize("missing", list(PRODUCTION_SECRETS))
def test_production_refuses_each_dev_secret(environment, missing):
    environment.setenv("LINLI_ENV", "production")
    for name, value in PRODUCTION_SECRETS.items():
        if name != missing:
            environment.setenv(name, value)
    with pytest.raises(ConfigError, match=missing):
        load_settings()


def test_production_starts_with_real_secrets(production):
    settings = load_settings()
    assert settings["SECRET_KEY"] == PRODUCTION_SECRETS["LINLI_SECRET_KEY"]
    assert settings["MOCK_PAGES"] is False


@pytest.mark.parametrize("env", ["Production", "prod", "PRODUCTION", "staging", " production",
                                 "dev"])
def test_an_environment_that_is_not_exactly_one_of_the_three_refuses_to_start(
        production, env):
    production.setenv("LINLI_ENV", env)
    with pytest.raises(ConfigError, match="LINLI_ENV must be exactly one of"):
        load_settings()


def test_production_refuses_a_short_secret_key(production):
    production.setenv("LINLI_SECRET_KEY", "x" * 31)
    with pytest.raises(ConfigError, match="LINLI_SECRET_KEY must be at least 32"):
        load_settings()


@pytest.mark.parametrize("base", [None, "http://127.0.0.1:8001", "http://127.0.0.1:8001/",
                                  "http://api.weixin.qq.com", "ftp://api.weixin.qq.com"])
def test_production_refuses_the_mock_or_a_plain_http_wechat_base(production, base):
    if base is None:
        production.delenv("LINLI_WECHAT_API_BASE")
    else:
        production.setenv("LINLI_WECHAT_API_BASE", base)
    with pytest.raises(ConfigError, match="LINLI_WECHAT_API_BASE"):
        load_settings()


def test_production_takes_a_deliberate_loopback_base(production):
    """A local egress proxy (or a benchmark's stand-in), set on purpose."""
    production.setenv("LINLI_WECHAT_API_BASE", "http://127.0.0.1:9100")
    assert load_settings()["WECHAT_API_BASE"] == "http://127.0.0.1:9100"


def test_production_refuses_the_mock_pages(production):
    production.setenv("LINLI_MOCK_PAGES", "on")
    with pytest.raises(ConfigError, match="LINLI_MOCK_PAGES"):
        load_settings()


def test_production_serves_no_mock_pages(production):
    from backend import create_app

    client = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).test_client()
    assert client.get("/mp/").status_code == 404
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("name, value", [("LINLI_PROXY_COUNT", "one"),
                                         ("LINLI_MOCK_PAGES", "maybe")])
def test_a_malformed_setting_is_refused_by_name(environment, name, value):
    environment.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_production_app_factory_refuses_dev_secrets(environment):
    from backend import create_app

    environment.setenv("LINLI_ENV", "production")
    with pytest.raises(ConfigError):
        create_app()


@pytest.mark.parametrize("key", ["short", "not base64 at all!!",
                                 "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83v"])
def test_a_malformed_checkin_signing_key_is_refused_at_start(environment, key):
    environment.setenv("LINLI_CHECKIN_SIGNING_KEY", key)
    with pytest.raises(ConfigError, match="LINLI_CHECKIN_SIGNING_KEY"):
        load_settings()


def test_scans_are_kept_while_an_offline_upload_could_still_arrive(environment):
    environment.setenv("LINLI_SCAN_KEEP_DAYS", "2")
    with pytest.raises(ConfigError, match="LINLI_SCAN_KEEP_DAYS must be longer"):
        load_settings()
    environment.setenv("LINLI_SCAN_KEEP_DAYS", "3")
    assert load_settings()["SCAN_KEEP_DAYS"] == 3
