"""Who may hold a client id's session: the checks a CONNECT passes, and one live connection per client id.

A session belongs to the authenticated device: its client id must be the
device's ``<realm>/<device_id>``, or empty (the Astarte Python SDK sends none;
the session is then keyed by the device all the same), and its will must be a
reading the device could publish. Nothing about existing sessions changes
until a CONNECT passed these checks; then a newer connection of the same
device takes over and the older one is closed (MQTT 3.1.1 §3.1.4-2).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from broker.ingest import judge, now_us
from broker.topics import TopicKind, route
from schemas.payload import Rejection

if TYPE_CHECKING:
    from amqtt.session import Session

    from broker.interfaces import InterfaceCache
    from broker.topics import DeviceIdentity

log = logging.getLogger(__name__)

# amqtt replaces an empty client id by one of these (``amqtt.utils.gen_client_id``) before we see it.
_ASSIGNED = re.compile(r"amqtt/[A-Za-z0-9]{16}")


def session_key(identity: DeviceIdentity, client_id: str | None) -> str | None:
    """The client id an authenticated device's session goes by, None if the CONNECT's is not its own."""
    if client_id == identity.base_topic or (client_id and _ASSIGNED.fullmatch(client_id)):
        return identity.base_topic
    return None


@dataclass(frozen=True, slots=True)
class Will:
    """A CONNECT's will message."""

    topic: str
    payload: bytes
    qos: int

    @classmethod
    def of(cls, session: Session) -> Will | None:
        if not session.will_flag or session.will_topic is None:
            return None
        return cls(session.will_topic, bytes(session.will_message or b""), session.will_qos or 0)


def refusal(
    interfaces: InterfaceCache, identity: DeviceIdentity, client_id: str | None, will: Will | None
) -> str | None:
    """Why an authenticated device's CONNECT is refused, or None (pure but for the interface cache)."""
    if session_key(identity, client_id) is None:
        return f"client id {client_id!r} is not the device's {identity.base_topic!r}"
    if will is None:
        return None
    if will.qos not in (0, 1, 2):
        return f"will QoS {will.qos} does not exist"
    where = route(identity, will.topic)
    if where.kind is not TopicKind.DATA:
        return f"will topic {will.topic!r} is not a data topic of {identity.base_topic}"
    # The introspection may come after the CONNECT: it is judged when the will fires, through ingest.
    judged = judge(interfaces, identity, where, will.payload, now_us(), declared=(where.interface,))
    if isinstance(judged, Rejection):
        return f"will on {will.topic!r}: {judged.detail}"
    return None


Close = Callable[[], Awaitable[None]]


@dataclass(eq=False)
class Connection:
    """A live connection: how to close it, and whether it has ended."""

    close: Close
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class Connections:
    """The connection serving each client id, so that a newer one can take over from it."""

    def __init__(self, *, takeover_timeout: float = 5.0) -> None:
        self._live: dict[str, Connection] = {}
        self._timeout = takeover_timeout

    async def take_over(self, client_id: str, close: Close) -> Connection:
        """Close whatever connection serves ``client_id``, wait until it ended, then register ``close``'s."""
        while (current := self._live.get(client_id)) is not None:
            log.info("closing the connection of %s: the device connected again", client_id)
            try:
                await asyncio.wait_for(current.close(), self._timeout)
                await asyncio.wait_for(current.ended.wait(), self._timeout)
            except TimeoutError:
                log.warning("the old connection of %s did not end within %.0f s", client_id, self._timeout)
                if self._live.get(client_id) is current:
                    del self._live[client_id]
        mine = Connection(close)
        self._live[client_id] = mine
        return mine

    def ended(self, client_id: str, connection: Connection) -> None:
        """A connection returned by :meth:`take_over` has ended."""
        if self._live.get(client_id) is connection:
            del self._live[client_id]
        connection.ended.set()
