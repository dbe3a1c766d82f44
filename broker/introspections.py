"""Which interfaces each device declared: a reading on any other is refused, as Astarte does.

A device declares its interfaces by publishing its introspection on its base topic.
The broker keeps the last one it received from each device; for a device it has
not heard from since it started, it takes the last one the registry knows at
CONNECT. A persistent session comes back to the broker that holds it, so that
broker already knows the introspection the device sent before; a device that
connects without a session sends its introspection again (Astarte MQTT v1).
"""

from __future__ import annotations

from collections.abc import Iterable

from broker.topics import DeviceIdentity
from schemas.introspection import parse_introspection

NOTHING: frozenset[str] = frozenset()


class Introspections:
    """Per device, the names of the interfaces its last introspection declared."""

    def __init__(self) -> None:
        self._declared: dict[DeviceIdentity, frozenset[str]] = {}
        self._heard: set[DeviceIdentity] = set()  # sent here, not recalled from the registry

    def declared(self, identity: DeviceIdentity) -> frozenset[str]:
        """The interfaces ``identity`` declared; none if it never sent an introspection."""
        return self._declared.get(identity, NOTHING)

    def declare(self, identity: DeviceIdentity, payload: bytes) -> dict[str, tuple[int, int]] | str:
        """Take an introspection payload: the interfaces it declares, or why it is invalid (kept as was)."""
        parsed = parse_introspection(payload.decode("utf-8", "replace"))
        if not isinstance(parsed, str):
            self._declared[identity] = frozenset(parsed)
            self._heard.add(identity)
        return parsed

    def recall(self, identity: DeviceIdentity, names: Iterable[str]) -> None:
        """Take the registry's last known introspection, unless the device sent one to this broker."""
        if identity not in self._heard:
            self._declared[identity] = frozenset(names)
