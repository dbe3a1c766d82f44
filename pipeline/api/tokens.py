"""Astarte JWTs: tokens signed with a realm's key pair, whose claims list what they may call.

Claims per API set: ``a_aea`` AppEngine, ``a_rma`` Realm Management, ``a_pa``
Pairing, ``a_ha`` Housekeeping, ``a_ch`` Channels. Each is a list of
``VERB::pathregex``, both anchored, the path relative to ``/v1/{realm}/``;
any entry that matches grants the call, and a missing claim grants nothing.
"""

from __future__ import annotations

import re
from typing import Any

import jwt

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"]
CLAIMS = {
    "appengine": "a_aea",
    "realmmanagement": "a_rma",
    "pairing": "a_pa",
    "housekeeping": "a_ha",
    "channels": "a_ch",
}


class TokenError(Exception):
    """A token that does not verify; the message says why."""


def looks_like_jwt(credential: str) -> bool:
    """Whether a presented credential is a JWT (three base64url parts), not an API key."""
    return credential.count(".") == 2 and not credential.startswith("hwk_")


def verify(token: str, public_key_pem: str) -> dict[str, Any]:
    """The token's claims when its signature (and expiry, if it has one) verify with the key."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, public_key_pem, algorithms=ALGORITHMS, options={"require": [], "verify_aud": False}
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise TokenError(f"the JWT does not verify with the realm's public key: {exc}") from exc
    return claims


def split_path(path: str) -> tuple[str, str] | None:
    """``/appengine/v1/acme/devices/x`` as ``("appengine", "devices/x")``; None outside an API set."""
    parts = path.strip("/").split("/", 3)
    if len(parts) < 3 or parts[1] != "v1" or parts[0] not in CLAIMS:
        return None
    if parts[0] == "housekeeping":
        return parts[0], "/".join(parts[2:])
    return parts[0], parts[3] if len(parts) == 4 else ""


def allows(claims: dict[str, Any], method: str, path: str) -> bool:
    """Whether the claims grant ``method`` on ``path`` (the request's full path)."""
    where = split_path(path)
    if where is None:
        return False
    api_set, relative = where
    grants = claims.get(CLAIMS[api_set])
    if not isinstance(grants, list):
        return False
    for grant in grants:
        verb, separator, pattern = str(grant).partition("::")
        if not separator:
            continue
        try:
            if re.fullmatch(verb, method) and re.fullmatch(pattern, relative):
                return True
        except re.error:
            continue
    return False


def make(private_key_pem: str, claims: dict[str, Any], algorithm: str = "RS256") -> str:
    """Sign claims with a private key (for ``gen-jwt`` and tests)."""
    return jwt.encode(claims, private_key_pem, algorithm=algorithm)
