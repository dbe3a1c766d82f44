"""Astarte JWTs: signature, and claims as anchored ``VERB::pathregex`` lists per API set."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pipeline.api import tokens


def keypair(kind: str = "rsa") -> tuple[str, str]:
    key = rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.mark.parametrize(("kind", "algorithm"), [("rsa", "RS256"), ("rsa", "PS512"), ("ec", "ES256")])
def test_tokens_verify_with_the_matching_public_key_only(kind: str, algorithm: str) -> None:
    private, public = keypair(kind)
    _, other = keypair(kind)
    token = tokens.make(private, {"a_aea": [".*::.*"]}, algorithm)

    assert tokens.looks_like_jwt(token)
    assert tokens.verify(token, public) == {"a_aea": [".*::.*"]}
    with pytest.raises(tokens.TokenError):
        tokens.verify(token, other)


def test_an_expired_token_is_refused() -> None:
    private, public = keypair()
    token = tokens.make(private, {"a_aea": [".*::.*"], "exp": int(time.time()) - 10})

    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify(token, public)


@pytest.mark.parametrize(
    ("claims", "method", "path", "allowed"),
    [
        ({"a_aea": [".*::.*"]}, "POST", "/appengine/v1/acme/devices/x/interfaces/i/p", True),
        ({"a_aea": ["GET::devices"]}, "GET", "/appengine/v1/acme/devices", True),
        ({"a_aea": ["GET::devices"]}, "GET", "/appengine/v1/acme/devices/x", False),  # anchored
        ({"a_aea": ["GET::devices.*"]}, "POST", "/appengine/v1/acme/devices/x", False),
        ({"a_aea": ["GET::devices.*", "POST::devices/.*"]}, "POST", "/appengine/v1/acme/devices/x", True),
        ({"a_aea": [".*::.*"]}, "GET", "/realmmanagement/v1/acme/interfaces", False),  # no a_rma
        ({"a_rma": ["GET::interfaces"]}, "GET", "/realmmanagement/v1/acme/interfaces", True),
        ({"a_pa": ["POST::agent/devices"]}, "POST", "/pairing/v1/acme/agent/devices", True),
        ({"a_aea": ["broken"]}, "GET", "/appengine/v1/acme/devices", False),
        ({"a_aea": ["GET::(unclosed"]}, "GET", "/appengine/v1/acme/devices", False),
        ({"a_aea": ".*::.*"}, "GET", "/appengine/v1/acme/devices", False),  # not a list
        ({"a_aea": [".*::.*"]}, "GET", "/auth/v1/whoami", False),
    ],
)
def test_claims_grant_what_they_list(
    claims: dict[str, object], method: str, path: str, allowed: bool
) -> None:
    assert tokens.allows(claims, method, path) is allowed


def test_api_keys_are_not_taken_for_tokens() -> None:
    assert not tokens.looks_like_jwt("hwk_0123_a.b.c")
    assert not tokens.looks_like_jwt("plain-key")
