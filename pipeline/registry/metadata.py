"""Device aliases, attributes and credentials inhibition: what AppEngine's PATCH changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.errors import ConflictError, NotFoundError, ValidationError
from pipeline.registry.tables import device_aliases, device_attributes, devices

if TYPE_CHECKING:
    from pipeline.registry import Registry


class DeviceMetadata:
    """Reads and patches a device's aliases, attributes and inhibition (null deletes a key)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def patch(
        self,
        realm: str,
        device_id: str,
        *,
        aliases: dict[str, str | None] | None = None,
        attributes: dict[str, str | None] | None = None,
        credentials_inhibited: bool | None = None,
    ) -> None:
        await self._registry.get_device(realm, device_id)
        for tag, alias in (aliases or {}).items():
            if alias is not None and not alias:
                raise ValidationError(f"alias {tag!r} cannot be empty (null deletes it)")
        key = (device_aliases.c.realm == realm, device_aliases.c.device_id == device_id)
        attribute_key = (device_attributes.c.realm == realm, device_attributes.c.device_id == device_id)
        try:
            async with self._registry.engine.begin() as conn:
                for tag, alias in (aliases or {}).items():
                    await conn.execute(delete(device_aliases).where(*key, device_aliases.c.tag == tag))
                    if alias is not None:
                        await conn.execute(
                            device_aliases.insert().values(
                                realm=realm, device_id=device_id, tag=tag, alias=alias
                            )
                        )
                for name, value in (attributes or {}).items():
                    await conn.execute(
                        delete(device_attributes).where(*attribute_key, device_attributes.c.key == name)
                    )
                    if value is not None:
                        await conn.execute(
                            device_attributes.insert().values(
                                realm=realm, device_id=device_id, key=name, value=value
                            )
                        )
                if credentials_inhibited is not None:
                    await conn.execute(
                        update(devices)
                        .where(
                            devices.c.realm == realm,
                            devices.c.device_id == device_id,
                        )
                        .values(credentials_inhibited=credentials_inhibited)
                    )
        except IntegrityError as exc:
            raise ConflictError(
                f"an alias in {sorted((aliases or {}).values(), key=str)} is taken in realm {realm!r}"
            ) from exc

    async def aliases(self, realm: str, device_id: str) -> dict[str, str]:
        query = select(device_aliases.c.tag, device_aliases.c.alias).where(
            device_aliases.c.realm == realm, device_aliases.c.device_id == device_id
        )
        async with self._registry.engine.connect() as conn:
            return {row.tag: row.alias for row in await conn.execute(query)}

    async def attributes(self, realm: str, device_id: str) -> dict[str, str]:
        query = select(device_attributes.c.key, device_attributes.c.value).where(
            device_attributes.c.realm == realm, device_attributes.c.device_id == device_id
        )
        async with self._registry.engine.connect() as conn:
            return {row.key: row.value for row in await conn.execute(query)}

    async def device_by_alias(self, realm: str, alias: str) -> str:
        query = select(device_aliases.c.device_id).where(
            device_aliases.c.realm == realm, device_aliases.c.alias == alias
        )
        async with self._registry.engine.connect() as conn:
            device_id = (await conn.execute(query)).scalar()
        if device_id is None:
            raise NotFoundError(f"no device has alias {alias!r} in realm {realm!r}")
        return str(device_id)
