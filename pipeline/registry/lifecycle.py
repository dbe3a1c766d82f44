"""The end of a device's life in the registry: unregistration (data kept) and deletion."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, update

from pipeline.registry import secrets
from pipeline.registry.tables import devices

if TYPE_CHECKING:
    from pipeline.registry import Registry


class DeviceLifecycle:
    """Unregisters and deletes devices; ``DeviceLifecycle(registry)`` works on a started registry."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def unregister(self, realm: str, device_id: str) -> None:
        """Astarte's agent unregistration: the secret stops working, the device may register anew.

        Its status, aliases, attributes, groups and stored data are kept.
        """
        await self._registry.get_device(realm, device_id)
        async with self._registry.engine.begin() as conn:
            await conn.execute(
                update(devices)
                .where(devices.c.realm == realm, devices.c.device_id == device_id)
                .values(secret_hash=secrets.digest(secrets.new_token()), first_credentials_request=None)
            )

    async def delete(self, realm: str, device_id: str) -> None:
        """Remove the device with its status, aliases, attributes, memberships and properties."""
        await self._registry.get_device(realm, device_id)
        async with self._registry.engine.begin() as conn:
            await conn.execute(
                delete(devices).where(devices.c.realm == realm, devices.c.device_id == device_id)
            )
