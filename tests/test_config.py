import pytest

from app.config import ConfigError, load_config


def test_production_refuses_to_start_without_secret_key_and_database():
    with pytest.raises(ConfigError) as exc:
        load_config("production", env={})
    message = str(exc.value)
    assert "SECRET_KEY" in message and "DATABASE_URL" in message and "REDIS_URL" in message


def test_production_refuses_a_short_secret_key():
    env = {"SECRET_KEY": "short", "DATABASE_URL": "postgresql://x/y", "REDIS_URL": "redis://x"}
    with pytest.raises(ConfigError, match="at least 32"):
        load_config("production", env=env)


def test_production_with_everything_set_uses_secure_cookies():
    env = {"SECRET_KEY": "x" * 40, "DATABASE_URL": "postgresql://x/y", "REDIS_URL": "redis://x"}
    config = load_config("production", env=env)
    assert config.SESSION_COOKIE_SECURE is True
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql://x/y"


def test_development_defaults_need_no_environment():
    config = load_config("development", env={})
    assert config.SQLALCHEMY_DATABASE_URI is None  # SQLite in the instance folder
    assert config.REDIS_URL is None  # embedded Redis
    assert config.RA_GRACE_SECONDS == 900
    assert len(config.SECRET_KEY) >= 32


def test_unknown_environment_name_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown PORTAL_ENV"):
        load_config("staging", env={})


def test_bad_number_is_a_clear_error():
    with pytest.raises(ConfigError, match="RA_GRACE_SECONDS"):
        load_config("development", env={"RA_GRACE_SECONDS": "fifteen"})


def test_webhooks_reach_private_networks_only_outside_production():
    env = {"SECRET_KEY": "x" * 40, "DATABASE_URL": "postgresql://x/y", "REDIS_URL": "redis://x"}
    production = load_config("production", env=env)
    assert production.WEBHOOK_ALLOW_PRIVATE_NETWORKS is False
    assert load_config("test", env={}).WEBHOOK_ALLOW_PRIVATE_NETWORKS is True
    assert load_config("development", env={}).WEBHOOK_ALLOW_PRIVATE_NETWORKS is True
    opened = load_config("production", env={**env, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1"})
    assert opened.WEBHOOK_ALLOW_PRIVATE_NETWORKS is True
    assert (
        production.WEBHOOK_DISABLE_AFTER_SECONDS,
        production.WEBHOOK_SWEEP_INTERVAL_SECONDS,
    ) == (
        86400,
        5,
    )
    assert (production.WEBHOOK_BACKOFF_BASE_SECONDS, production.WEBHOOK_TIMEOUT_SECONDS) == (10, 10)


def test_webhook_durations_below_one_second_are_refused():
    with pytest.raises(ConfigError, match="WEBHOOK_BACKOFF_BASE_SECONDS must be at least 1"):
        load_config("development", env={"WEBHOOK_BACKOFF_BASE_SECONDS": "0"})
