"""AppEngine groups of devices: a group is created with its first devices and lives while it has any."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from pipeline.errors import ConflictError, NotFoundError, ValidationError
from pipeline.registry.tables import group_members

if TYPE_CHECKING:
    from pipeline.registry import Registry


def group_name_error(name: str) -> str | None:
    """Why ``name`` cannot name a group (Astarte's rules), or None."""
    if not name:
        return "group_name cannot be empty"
    if name[0] in "~@":
        return f"group_name {name!r} cannot start with '~' or '@'"
    if len(name) > 128:
        return "group_name is longer than 128 characters"
    return None


class Groups:
    """Create groups, list them and change their members."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def create(self, realm: str, name: str, device_ids: list[str]) -> None:
        problem = group_name_error(name)
        if problem:
            raise ValidationError(problem)
        if not device_ids:
            raise ValidationError("a group is created with at least one device")
        if await self.members(realm, name, missing_ok=True):
            raise ConflictError(f"group {name!r} already exists in realm {realm!r}")
        for device_id in device_ids:
            await self._registry.get_device(realm, device_id)
        async with self._registry.engine.begin() as conn:
            for device_id in dict.fromkeys(device_ids):
                await conn.execute(
                    group_members.insert().values(realm=realm, group_name=name, device_id=device_id)
                )

    async def names(self, realm: str) -> list[str]:
        query = (
            select(group_members.c.group_name)
            .where(group_members.c.realm == realm)
            .distinct()
            .order_by(group_members.c.group_name)
        )
        async with self._registry.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def members(self, realm: str, name: str, *, missing_ok: bool = False) -> list[str]:
        query = (
            select(group_members.c.device_id)
            .where(group_members.c.realm == realm, group_members.c.group_name == name)
            .order_by(group_members.c.device_id)
        )
        async with self._registry.engine.connect() as conn:
            members = list((await conn.execute(query)).scalars())
        if not members and not missing_ok:
            raise NotFoundError(f"group {name!r} not found in realm {realm!r}")
        return members

    async def add(self, realm: str, name: str, device_id: str) -> None:
        await self.members(realm, name)
        await self._registry.get_device(realm, device_id)
        try:
            async with self._registry.engine.begin() as conn:
                await conn.execute(
                    group_members.insert().values(realm=realm, group_name=name, device_id=device_id)
                )
        except IntegrityError as exc:
            raise ConflictError(f"device {device_id} is already in group {name!r}") from exc

    async def remove(self, realm: str, name: str, device_id: str) -> None:
        async with self._registry.engine.begin() as conn:
            result = await conn.execute(
                delete(group_members).where(
                    group_members.c.realm == realm,
                    group_members.c.group_name == name,
                    group_members.c.device_id == device_id,
                )
            )
        if result.rowcount == 0:
            raise NotFoundError(f"device {device_id} is not in group {name!r}")

    async def memberships(self, realm: str | None = None) -> dict[tuple[str, str], frozenset[str]]:
        """``(realm, device_id)`` to the device's groups, for one realm or all."""
        query = select(group_members.c.realm, group_members.c.device_id, group_members.c.group_name)
        if realm is not None:
            query = query.where(group_members.c.realm == realm)
        found: dict[tuple[str, str], set[str]] = {}
        async with self._registry.engine.connect() as conn:
            for row in await conn.execute(query):
                found.setdefault((row.realm, row.device_id), set()).add(row.group_name)
        return {key: frozenset(names) for key, names in found.items()}

    async def of_device(self, realm: str, device_id: str) -> list[str]:
        query = (
            select(group_members.c.group_name)
            .where(group_members.c.realm == realm, group_members.c.device_id == device_id)
            .order_by(group_members.c.group_name)
        )
        async with self._registry.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())
