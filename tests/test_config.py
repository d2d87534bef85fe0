"""Settings come from LINLI_* variables; production refuses the dev secrets (SPEC §11-12)."""

from __future__ import annotations

import pytest

from backend.config import ConfigError, load_settings

PRODUCTION_SECRETS = {"LINLI_SECRET_KEY": "s3cret-from-vault", "LINLI_WECHAT_APPID": "wx123",
                      "LINLI_WECHAT_SECRET": "real-wechat-secret",
                      "LINLI_CHECKIN_SIGNING_KEY": "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80"}


@pytest.fixture
def environment(monkeypatch):
    for name in ("LINLI_ENV", "LINLI_DATABASE_URL", "LINLI_BOOTSTRAP_ADMIN_OPENIDS",
                 *PRODUCTION_SECRETS):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


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


def test_production_starts_with_real_secrets(environment):
    environment.setenv("LINLI_ENV", "production")
    for name, value in PRODUCTION_SECRETS.items():
        environment.setenv(name, value)
    assert load_settings()["SECRET_KEY"] == "s3cret-from-vault"


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
