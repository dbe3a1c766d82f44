"""Small helpers shared by the test suites."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from schemas.names import random_device_id

__all__ = ["eventually", "random_device_id", "reading", "temperature_interface"]


async def eventually(check: Callable[[], Any], *, within: float = 10.0, every: float = 0.05) -> Any:
    """Await ``check()`` (sync or async) until it returns something truthy; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s (last: {result!r})")
        await asyncio.sleep(every)


def remaining_length(length: int) -> bytes:
    """MQTT's variable-length encoding of a packet's remaining length (3.1.1 §2.2.3)."""
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def temperature_interface(name: str = "org.acme.Temperature", ownership: str = "device") -> dict[str, Any]:
    """A device-owned individual datastream of doubles with a parameter in its endpoint."""
    return {
        "interface_name": name,
        "version_major": 0,
        "version_minor": 1,
        "type": "datastream",
        "ownership": ownership,
        "mappings": [{"endpoint": "/%{sensor}/value", "type": "double", "explicit_timestamp": True}],
    }


def reading(
    device_id: str,
    path: str,
    value: object,
    timestamp: int,
    *,
    realm: str = "acme",
    value_type: str = "double",
    interface: str = "org.acme.Temperature",
) -> dict[str, Any]:
    """An ingest reading as the broker puts it in a batch."""
    return {
        "realm": realm,
        "device_id": device_id,
        "interface": interface,
        "major": 0,
        "path": path,
        "value_type": value_type,
        "value": value,
        "timestamp": timestamp,
        "reception_timestamp": timestamp + 1,
    }
