"""Fixtures of the sign-in tests."""

from tests.auth.sso_support import acme, provider, provider_server, standin  # noqa: F401 (fixtures)
