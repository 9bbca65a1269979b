"""Fixtures of the sign-in tests."""

from tests.auth.sso_support import acme, provider  # noqa: F401 (fixtures)
