"""Where a device's PUBLISH goes, decided from its topic alone (pure).

Topics live under ``<realm>/<device_id>``: the base topic itself carries the
introspection, ``control/...`` and ``capabilities`` are protocol messages, and
``<interface>/<path>`` carries data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """Who is connected: established at CONNECT, by credentials or certificate."""

    realm: str
    device_id: str

    @property
    def base_topic(self) -> str:
        return f"{self.realm}/{self.device_id}"

    @classmethod
    def from_username(cls, username: str | None) -> DeviceIdentity | None:
        """``realm/device_id`` as a plain-listener username, else None."""
        if not username or username.count("/") != 1:
            return None
        realm, device_id = username.split("/")
        if not realm or not device_id:
            return None
        return cls(realm, device_id)


class TopicKind(StrEnum):
    INTROSPECTION = "introspection"
    CONTROL = "control"
    CAPABILITIES = "capabilities"
    DATA = "data"
    FOREIGN = "foreign"


@dataclass(frozen=True, slots=True)
class Route:
    """A classified topic: its kind and, for data, the interface name and path."""

    kind: TopicKind
    interface: str = ""
    path: str = ""


def route(identity: DeviceIdentity, topic: str) -> Route:
    """Classify ``topic`` as published by ``identity``; anything outside its own subtree is foreign."""
    base = identity.base_topic
    if topic == base:
        return Route(TopicKind.INTROSPECTION)
    if not topic.startswith(base) or topic[len(base)] != "/":
        return Route(TopicKind.FOREIGN)
    rest = topic[len(base) + 1 :]
    if rest.startswith("control/"):
        return Route(TopicKind.CONTROL, path=rest[len("control") :])
    if rest == "capabilities":
        return Route(TopicKind.CAPABILITIES)
    interface, slash, path = rest.partition("/")
    if not slash or not interface:
        return Route(TopicKind.DATA, interface=interface, path="")
    return Route(TopicKind.DATA, interface=interface, path="/" + path)


def may_subscribe(identity: DeviceIdentity, topic_filter: str, server_owned: Callable[[str], bool]) -> bool:
    """Whether a device may subscribe: its control topics, or an interface of its realm the server owns.

    ``server_owned(name)`` tells whether an installed interface of the realm is server-owned.
    """
    base = identity.base_topic + "/"
    if not topic_filter.startswith(base):
        return False
    rest = topic_filter[len(base) :]
    if rest.startswith("control/"):
        return True
    interface = rest.split("/", 1)[0]
    return interface not in ("", "#", "+") and server_owned(interface)
