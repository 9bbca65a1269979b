"""argon2id everywhere: the strong profile for people's passwords, minimal parameters for
the portal's own random secrets (docs/decisions.md says why)."""

from argon2 import extract_parameters

from app.assistance.launch import PASSWORD_ALPHABET, PASSWORD_LENGTH, generate_password
from app.core.passwords import hash_password, hash_random_secret, verify_password


def test_random_secrets_get_argon2id_with_minimal_parameters_and_verify():
    secret = generate_password()
    encoded = hash_random_secret(secret)
    params = extract_parameters(encoded)
    assert encoded.startswith("$argon2id$")
    assert (params.time_cost, params.memory_cost, params.parallelism) == (1, 4096, 1)
    assert verify_password(encoded, secret)
    assert not verify_password(encoded, secret[:-1] + "x")


def test_peoples_passwords_keep_the_rfc_9106_profile():
    params = extract_parameters(hash_password("correct horse battery staple"))
    assert params.memory_cost >= 65536 and params.time_cost >= 3


def test_the_unattended_password_has_at_least_80_bits():
    import math

    assert PASSWORD_LENGTH * math.log2(len(set(PASSWORD_ALPHABET))) >= 80
