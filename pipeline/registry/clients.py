"""Devices seen as Magistrala clients, kept in what a device already has.

A client is a device of the realm its domain names. Its ``name`` and ``credentials.identity``
are the device's aliases ``name`` and ``identity`` (unique in the realm, as every alias), its
``metadata`` the device's attributes, its ``status`` the inverse of the credentials inhibition
and its parent group one of its AppEngine groups; tags and the time of the last change are
columns of the device.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.errors import ConflictError, NotFoundError, ValidationError
from pipeline.registry import secrets
from pipeline.registry.groups import group_name_error
from pipeline.registry.lifecycle import DeviceLifecycle
from pipeline.registry.metadata import DeviceMetadata
from pipeline.registry.registry import RealmRecord, check_registration_limit
from pipeline.registry.tables import device_aliases, device_attributes, devices, group_members
from schemas.names import random_device_id

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from pipeline.registry import Registry

NAME_ALIAS = "name"
IDENTITY_ALIAS = "identity"
# Secrets are kept as SHA-256 (``secrets``), which only suits secrets too long to guess.
MIN_SECRET_LENGTH = 16
_FIELDS = {NAME_ALIAS: "name", IDENTITY_ALIAS: "credentials.identity"}


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """A device as a Magistrala client (times in microseconds)."""

    realm: str
    id: str
    name: str
    identity: str
    tags: tuple[str, ...]
    metadata: dict[str, str]
    enabled: bool
    parent_group: str | None
    created_at: int
    updated_at: int
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NewClient:
    """What a new client is created with; without a secret one is generated."""

    name: str = ""
    identity: str = ""
    secret: str | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    enabled: bool = True


class Clients:
    """Create, read, change and delete devices through their client view."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def domain(self, realm: str) -> RealmRecord:
        """The realm a domain id names; NotFoundError in the clients API's words."""
        try:
            return await self._registry.get_realm(realm)
        except NotFoundError:
            raise NotFoundError(f"domain {realm!r} not found (a domain is a realm)") from None

    async def create(self, realm: str, new: NewClient) -> tuple[ClientRecord, str]:
        """A new device with a fresh id; returns it with its secret (shown this once)."""
        limit = (await self.domain(realm)).device_registration_limit
        device_id, secret, now = random_device_id(), new.secret or secrets.new_token(), _now_us()
        aliases = {
            tag: alias for tag, alias in ((NAME_ALIAS, new.name), (IDENTITY_ALIAS, new.identity)) if alias
        }
        if new.name and new.name == new.identity:
            raise ConflictError("name and credentials.identity must differ: both are aliases of the device")
        await self._refuse_taken(realm, device_id, aliases)
        row = {"realm": realm, "device_id": device_id}
        try:
            async with self._registry.engine.begin() as conn:
                await check_registration_limit(conn, realm, limit)
                await conn.execute(
                    devices.insert().values(
                        **row,
                        secret_hash=secrets.digest(secret),
                        first_registration=now,
                        credentials_inhibited=not new.enabled,
                        tags=json.dumps(list(new.tags)),
                        updated_at=now,
                    )
                )
                for tag, alias in aliases.items():
                    await conn.execute(device_aliases.insert().values(**row, tag=tag, alias=alias))
                for key, value in new.metadata.items():
                    await conn.execute(device_attributes.insert().values(**row, key=key, value=value))
        except IntegrityError as exc:
            raise ConflictError(
                f"an alias in {sorted(aliases.values())} is taken in domain {realm!r}"
            ) from exc
        return await self.get(realm, device_id), secret

    async def get(self, realm: str, client_id: str) -> ClientRecord:
        query = select(devices).where(devices.c.realm == realm, devices.c.device_id == client_id)
        async with self._registry.engine.connect() as conn:
            found = await self._records(conn, realm, (await conn.execute(query)).all())
        if not found:
            await self.domain(realm)
            raise NotFoundError(f"client {client_id} not found in domain {realm!r}")
        return found[0]

    async def page(self, realm: str, *, offset: int, limit: int) -> tuple[int, list[ClientRecord]]:
        """How many clients the domain has, and ``limit`` of them from ``offset``, oldest first."""
        await self.domain(realm)
        count = select(func.count()).select_from(devices).where(devices.c.realm == realm)
        query = (
            select(devices)
            .where(devices.c.realm == realm)
            .order_by(devices.c.first_registration, devices.c.device_id)
            .offset(offset)
            .limit(limit)
        )
        async with self._registry.engine.connect() as conn:
            total = (await conn.execute(count)).scalar_one()
            return int(total), await self._records(conn, realm, (await conn.execute(query)).all())

    async def update(
        self,
        realm: str,
        client_id: str,
        *,
        name: str | None = None,
        metadata: dict[str, str] | None = None,
        tags: list[str] | None = None,
    ) -> ClientRecord:
        """Replace the name (empty removes it), the metadata and the tags; what is None stays."""
        client = await self.get(realm, client_id)
        if name and name == client.identity:
            raise ConflictError(f"name {name!r} is this client's credentials.identity: they must differ")
        if name:
            await self._refuse_taken(realm, client_id, {NAME_ALIAS: name})
        # Null deletes an alias or attribute: the old metadata keys go unless given again.
        await DeviceMetadata(self._registry).patch(
            realm,
            client_id,
            aliases=None if name is None else {NAME_ALIAS: name or None},
            attributes=None if metadata is None else {**dict.fromkeys(client.metadata), **metadata},
        )
        async with self._registry.engine.begin() as conn:
            await self._change(conn, realm, client_id, **({} if tags is None else {"tags": json.dumps(tags)}))
        return await self.get(realm, client_id)

    async def set_secret(self, realm: str, client_id: str, secret: str) -> ClientRecord:
        """Replace the client's credentials secret: from its next connection on, only this one works."""
        await self.get(realm, client_id)
        async with self._registry.engine.begin() as conn:
            await self._change(conn, realm, client_id, secret_hash=secrets.digest(secret))
        return await self.get(realm, client_id)

    async def set_enabled(self, realm: str, client_id: str, enabled: bool) -> ClientRecord:
        """Enable or disable (inhibit the credentials of) a client; 409 when it already is."""
        client = await self.get(realm, client_id)
        if client.enabled == enabled:
            raise ConflictError(f"client {client_id} is already {'enabled' if enabled else 'disabled'}")
        async with self._registry.engine.begin() as conn:
            await self._change(conn, realm, client_id, credentials_inhibited=not enabled)
        return await self.get(realm, client_id)

    async def delete(self, realm: str, client_id: str) -> list[str]:
        """Delete the device with all it has in the registry (roles too); returns the groups it left."""
        client = await self.get(realm, client_id)
        await DeviceLifecycle(self._registry).delete(realm, client_id)
        return list(client.groups)

    async def set_parent(self, realm: str, client_id: str, group: str) -> bool:
        """Make ``group`` the client's parent (creating the AppEngine group); whether it changed."""
        problem = group_name_error(group)
        if problem:
            raise ValidationError(problem.replace("group_name", "parent_group_id"))
        client = await self.get(realm, client_id)
        if client.parent_group == group:
            return False
        if client.parent_group is not None:
            raise ConflictError(
                f"client {client_id} already has parent group {client.parent_group!r}: remove it first"
            )
        async with self._registry.engine.begin() as conn:
            if group not in client.groups:
                await conn.execute(
                    group_members.insert().values(realm=realm, group_name=group, device_id=client_id)
                )
            await self._change(conn, realm, client_id, parent_group=group)
        return True

    async def remove_parent(self, realm: str, client_id: str) -> str | None:
        """Take the client out of its parent group; returns that group (None when it had none)."""
        client = await self.get(realm, client_id)
        if client.parent_group is None:
            return None
        async with self._registry.engine.begin() as conn:
            await conn.execute(
                delete(group_members).where(
                    group_members.c.realm == realm,
                    group_members.c.group_name == client.parent_group,
                    group_members.c.device_id == client_id,
                )
            )
            await self._change(conn, realm, client_id, parent_group=None)
        return client.parent_group

    async def _refuse_taken(self, realm: str, client_id: str, aliases: dict[str, str]) -> None:
        if not aliases:
            return
        query = select(device_aliases.c.device_id, device_aliases.c.tag, device_aliases.c.alias).where(
            device_aliases.c.realm == realm, device_aliases.c.alias.in_(list(aliases.values()))
        )
        async with self._registry.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        for row in rows:
            if row.device_id == client_id and aliases.get(row.tag) == row.alias:
                continue
            tag = next(tag for tag, alias in aliases.items() if alias == row.alias)
            owner = "this client" if row.device_id == client_id else f"device {row.device_id}"
            raise ConflictError(
                f"{_FIELDS[tag]} {row.alias!r} is taken in domain {realm!r}: it is an alias of {owner}"
            )

    @staticmethod
    async def _change(conn: AsyncConnection, realm: str, device_id: str, **values: Any) -> None:
        await conn.execute(
            update(devices)
            .where(devices.c.realm == realm, devices.c.device_id == device_id)
            .values(updated_at=_now_us(), **values)
        )

    @staticmethod
    async def _records(conn: AsyncConnection, realm: str, rows: Any) -> list[ClientRecord]:
        """Client records for device rows, with their aliases, attributes and groups."""
        ids = [row.device_id for row in rows]
        if not ids:
            return []
        aliases: dict[tuple[str, str], str] = {}
        attributes: dict[str, dict[str, str]] = {}
        groups: dict[str, list[str]] = {}
        alias_query = select(device_aliases).where(
            device_aliases.c.realm == realm,
            device_aliases.c.device_id.in_(ids),
            device_aliases.c.tag.in_(list(_FIELDS)),
        )
        for alias in await conn.execute(alias_query):
            aliases[(alias.device_id, alias.tag)] = alias.alias
        attribute_query = select(device_attributes).where(
            device_attributes.c.realm == realm, device_attributes.c.device_id.in_(ids)
        )
        for attribute in await conn.execute(attribute_query):
            attributes.setdefault(attribute.device_id, {})[attribute.key] = attribute.value
        group_query = (
            select(group_members.c.device_id, group_members.c.group_name)
            .where(group_members.c.realm == realm, group_members.c.device_id.in_(ids))
            .order_by(group_members.c.group_name)
        )
        for member in await conn.execute(group_query):
            groups.setdefault(member.device_id, []).append(member.group_name)
        return [
            ClientRecord(
                realm=realm,
                id=row.device_id,
                name=aliases.get((row.device_id, NAME_ALIAS), ""),
                identity=aliases.get((row.device_id, IDENTITY_ALIAS), ""),
                tags=tuple(json.loads(row.tags)) if row.tags else (),
                metadata=dict(sorted(attributes.get(row.device_id, {}).items())),
                enabled=not row.credentials_inhibited,
                # The parent is left when the device left that group through AppEngine.
                parent_group=row.parent_group if row.parent_group in groups.get(row.device_id, ()) else None,
                created_at=row.first_registration,
                updated_at=row.updated_at or row.first_registration,
                groups=tuple(groups.get(row.device_id, ())),
            )
            for row in rows
        ]
