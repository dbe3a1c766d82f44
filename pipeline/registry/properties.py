"""Server-owned properties currently set on devices, kept so brokers can resend them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from pipeline.registry.tables import server_properties

if TYPE_CHECKING:
    from pipeline.registry import Registry


class ServerProperties:
    """Set, unset and list the server-owned properties of a device (payloads as sent)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def set(self, realm: str, device_id: str, interface: str, path: str, payload: bytes) -> None:
        key = (
            server_properties.c.realm == realm,
            server_properties.c.device_id == device_id,
            server_properties.c.interface == interface,
            server_properties.c.path == path,
        )
        async with self._registry.engine.begin() as conn:
            await conn.execute(delete(server_properties).where(*key))
            await conn.execute(
                server_properties.insert().values(
                    realm=realm,
                    device_id=device_id,
                    interface=interface,
                    path=path,
                    payload=payload,
                    set_at=time.time_ns() // 1000,
                )
            )

    async def unset(self, realm: str, device_id: str, interface: str, path: str) -> None:
        async with self._registry.engine.begin() as conn:
            await conn.execute(
                delete(server_properties).where(
                    server_properties.c.realm == realm,
                    server_properties.c.device_id == device_id,
                    server_properties.c.interface == interface,
                    server_properties.c.path == path,
                )
            )

    async def of_device(self, realm: str, device_id: str) -> list[tuple[str, str, bytes]]:
        """``(interface, path, payload)`` of every property set on the device, in a stable order."""
        query = (
            select(server_properties.c.interface, server_properties.c.path, server_properties.c.payload)
            .where(server_properties.c.realm == realm, server_properties.c.device_id == device_id)
            .order_by(server_properties.c.interface, server_properties.c.path)
        )
        async with self._registry.engine.connect() as conn:
            return [(row.interface, row.path, bytes(row.payload)) for row in await conn.execute(query)]
