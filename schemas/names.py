"""Rules for the names devices and operators use: device ids and realm names."""

from __future__ import annotations

import base64
import binascii
import re
import uuid

_DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
_REALM = re.compile(r"^[a-z][a-z0-9]{0,47}$")
_RESERVED_REALMS = frozenset({"astarte", "system"})


def device_id_error(device_id: str) -> str | None:
    """Why ``device_id`` is not an Astarte device id (128 bits, base64url, no padding), or None."""
    if not _DEVICE_ID.fullmatch(device_id):
        return f"device id {device_id!r} must be 22 base64url characters (128 bits, no padding)"
    try:
        raw = base64.urlsafe_b64decode(device_id + "==")
    except (binascii.Error, ValueError):
        return f"device id {device_id!r} is not valid base64url"
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != device_id:
        return f"device id {device_id!r} has non-zero padding bits"
    return None


def random_device_id() -> str:
    """A new random device id."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def device_id_from_string(namespace: uuid.UUID, data: str) -> str:
    """A stable device id for ``data`` (a serial number, a MAC): UUIDv5 in ``namespace``, as the SDKs do."""
    return base64.urlsafe_b64encode(uuid.uuid5(namespace, data).bytes).rstrip(b"=").decode()


def realm_name_error(name: str) -> str | None:
    """Why ``name`` cannot name a realm, or None."""
    if not _REALM.fullmatch(name):
        return f"realm name {name!r} must match ^[a-z][a-z0-9]{{0,47}}$"
    if name in _RESERVED_REALMS or name.startswith("system_"):
        return f"realm name {name!r} is reserved"
    return None
