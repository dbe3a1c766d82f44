"""Generated secrets and how they are kept at rest.

Credentials secrets and API keys are 256-bit random tokens, so a plain SHA-256
is a sufficient hash at rest (no dictionary to guess from) and keeps device
authentication at CONNECT cheap. User passwords, which people choose, use a
slow password hash instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_KEY_PREFIX = "hwk_"


def new_token() -> str:
    """A fresh 256-bit token, base64url."""
    return secrets.token_urlsafe(32)


def new_api_key() -> tuple[str, str]:
    """A fresh API key and its public id: ``(key, key_id)``."""
    key_id = secrets.token_hex(8)
    return f"{API_KEY_PREFIX}{key_id}_{new_token()}", key_id


def digest(token: str) -> str:
    """The at-rest form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def matches(token: str, stored_digest: str) -> bool:
    """Whether ``token`` hashes to ``stored_digest``, in constant time."""
    return hmac.compare_digest(digest(token), stored_digest)
