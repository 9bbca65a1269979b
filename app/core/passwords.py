"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when the account does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 12


# For secrets the portal itself draws from a CSPRNG (the unattended password: 81 bits),
# argon2id's cost protects nothing: it exists to slow guessing of human-chosen passwords,
# and 2**80 guesses are out of reach at any cost per guess. The RFC 9106 profile above took
# ~155 ms of each start request; these minimal parameters take ~1-2 ms and keep the
# format (an argon2id hash, verified like any other). See docs/decisions.md.
_random_secret_hasher = PasswordHasher(time_cost=1, memory_cost=4096, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def hash_random_secret(secret: str) -> str:
    """argon2id of a secret with at least ~80 bits of CSPRNG entropy (never a person's)."""
    return _random_secret_hasher.hash(secret)


def verify_password(encoded: str | None, password: str) -> bool:
    """True when `password` matches `encoded`; always spends one argon2 verification."""
    try:
        return _hasher.verify(encoded or _DUMMY_HASH, password) and encoded is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    return _hasher.check_needs_rehash(encoded)


def password_problem(password: str) -> str | None:
    """Why `password` is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Passwords need at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > 1024:
        return "Passwords may have at most 1024 characters."
    return None
