"""Generated secrets: token and API key shapes, and the at-rest digest."""

from __future__ import annotations

import hashlib
import re

import pytest

from pipeline.registry.secrets import API_KEY_PREFIX, digest, matches, new_api_key, new_token

API_KEY = re.compile(r"^hwk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


def test_digest_is_sha256_hex() -> None:
    assert digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert digest("") == hashlib.sha256(b"").hexdigest()
    assert digest("caf\u00e9") == hashlib.sha256("caf\u00e9".encode()).hexdigest()


def test_digest_is_deterministic_and_distinguishes_tokens() -> None:
    token = new_token()
    assert digest(token) == digest(token)
    assert digest(token) != digest(token + "x")


@pytest.mark.parametrize(
    ("token", "stored", "expected"),
    [
        ("secret", digest("secret"), True),
        ("secret", digest("Secret"), False),
        ("secret", digest("secret "), False),
        ("", digest(""), True),
        ("secret", "", False),
        ("secret", digest("secret").upper(), False),
        ("secret", "secret", False),  # the token itself is not its digest
    ],
)
def test_matches(token: str, stored: str, expected: bool) -> None:
    assert matches(token, stored) is expected


def test_new_token_is_256_bit_base64url() -> None:
    tokens = {new_token() for _ in range(100)}

    assert len(tokens) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", t) for t in tokens)


def test_new_api_key_format() -> None:
    key, key_id = new_api_key()

    found = API_KEY.fullmatch(key)
    assert found is not None, key
    assert found.group(1) == key_id
    assert key.startswith(f"{API_KEY_PREFIX}{key_id}_")


def test_new_api_keys_are_unique() -> None:
    keys = [new_api_key() for _ in range(200)]

    assert len({key for key, _ in keys}) == 200
    assert len({key_id for _, key_id in keys}) == 200
    assert len({digest(key) for key, _ in keys}) == 200
