"""Resending server-owned properties to a device that starts afresh.

When a device empties its cache (after a clean session and its subscriptions),
it gets every server-owned property set on it, then the consumer purge list
naming them, so it can drop any other it still keeps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.registry.properties import ServerProperties
from schemas.purge import encode_purge_list

if TYPE_CHECKING:
    from broker.server import HeadwaterBroker
    from broker.topics import DeviceIdentity
    from pipeline.registry import Registry


class PropertyResender:
    """Publishes a device's server-owned properties and the consumer purge list."""

    def __init__(self, registry: Registry, broker: HeadwaterBroker) -> None:
        self._properties = ServerProperties(registry)
        self._broker = broker

    async def resend(self, identity: DeviceIdentity) -> None:
        base = identity.base_topic
        properties = await self._properties.of_device(identity.realm, identity.device_id)
        for interface, path, payload in properties:
            await self._broker.internal_message_broadcast(f"{base}/{interface}{path}", payload, 2)
        purge = encode_purge_list([f"{interface}{path}" for interface, path, _ in properties])
        await self._broker.internal_message_broadcast(f"{base}/control/consumer/properties", purge, 2)
