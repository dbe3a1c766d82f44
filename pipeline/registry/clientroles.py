"""Roles on clients, as Magistrala's role manager has them: named sets of actions granted to users.

A role belongs to one client (device) and is found by its id or its name. Members are
Headwater users. Roles are kept and listed for Magistrala's tools; what a caller may do
through Headwater's API is decided by its realm role (``pipeline.permissions``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.errors import ConflictError, NotFoundError, ValidationError
from pipeline.registry.clients import Clients
from pipeline.registry.tables import client_role_actions, client_role_members, client_roles, users

if TYPE_CHECKING:
    from pipeline.registry import Registry

# What a role may grant on a client: Magistrala's client actions, its channel connection
# replaced by the two directions a device's data takes.
AVAILABLE_ACTIONS = (
    "read",
    "update",
    "delete",
    "set_parent_group",
    "publish",  # send server-owned data to the device
    "subscribe",  # read the data the device sent
    "manage_role",
    "add_role_users",
    "remove_role_users",
    "view_role_users",
)


def unknown_actions(actions: Sequence[str]) -> list[str]:
    """The actions that are not among ``AVAILABLE_ACTIONS``."""
    return [action for action in actions if action not in AVAILABLE_ACTIONS]


@dataclass(frozen=True, slots=True)
class RoleRecord:
    """A client's role (times in microseconds; ``by`` fields are usernames)."""

    id: str
    name: str
    client_id: str
    created_by: str | None
    created_at: int
    updated_by: str | None
    updated_at: int | None


class ClientRoles:
    """Create, rename and delete a client's roles, and change their actions and members."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def create(
        self,
        realm: str,
        client_id: str,
        name: str,
        *,
        actions: Sequence[str] = (),
        members: Sequence[str] = (),
        by: str | None = None,
    ) -> RoleRecord:
        await Clients(self._registry).get(realm, client_id)
        _check_actions(actions)
        await self._check_users(members)
        role_id = str(uuid.uuid4())
        try:
            async with self._registry.engine.begin() as conn:
                await conn.execute(
                    client_roles.insert().values(
                        role_id=role_id,
                        realm=realm,
                        device_id=client_id,
                        name=name,
                        created_by=by,
                        created_at=time.time_ns() // 1000,
                    )
                )
                for action in dict.fromkeys(actions):
                    await conn.execute(client_role_actions.insert().values(role_id=role_id, action=action))
                for member in dict.fromkeys(members):
                    await conn.execute(client_role_members.insert().values(role_id=role_id, member=member))
        except IntegrityError as exc:
            raise ConflictError(f"client {client_id} already has a role named {name!r}") from exc
        return await self.get(realm, client_id, role_id)

    async def page(
        self, realm: str, client_id: str, *, offset: int, limit: int
    ) -> tuple[int, list[RoleRecord]]:
        await Clients(self._registry).get(realm, client_id)
        where = (client_roles.c.realm == realm, client_roles.c.device_id == client_id)
        count = select(func.count()).select_from(client_roles).where(*where)
        query = select(client_roles).where(*where).order_by(client_roles.c.name).offset(offset).limit(limit)
        async with self._registry.engine.connect() as conn:
            total = (await conn.execute(count)).scalar_one()
            return int(total), [_record(row) for row in await conn.execute(query)]

    async def get(self, realm: str, client_id: str, role: str) -> RoleRecord:
        """A role of the client, by id or by name."""
        query = select(client_roles).where(
            client_roles.c.realm == realm,
            client_roles.c.device_id == client_id,
            or_(client_roles.c.role_id == role, client_roles.c.name == role),
        )
        async with self._registry.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            await Clients(self._registry).get(realm, client_id)
            raise NotFoundError(f"role {role!r} not found on client {client_id}")
        return _record(min(rows, key=lambda row: row.role_id != role))

    async def rename(self, realm: str, client_id: str, role: str, name: str, *, by: str | None) -> RoleRecord:
        found = await self.get(realm, client_id, role)
        try:
            async with self._registry.engine.begin() as conn:
                await conn.execute(
                    update(client_roles)
                    .where(client_roles.c.role_id == found.id)
                    .values(name=name, updated_by=by, updated_at=time.time_ns() // 1000)
                )
        except IntegrityError as exc:
            raise ConflictError(f"client {client_id} already has a role named {name!r}") from exc
        return await self.get(realm, client_id, found.id)

    async def delete(self, realm: str, client_id: str, role: str) -> None:
        found = await self.get(realm, client_id, role)
        async with self._registry.engine.begin() as conn:
            await conn.execute(delete(client_roles).where(client_roles.c.role_id == found.id))

    async def add_actions(self, realm: str, client_id: str, role: str, actions: Sequence[str]) -> None:
        _check_actions(actions)
        found = await self.get(realm, client_id, role)
        await self._add(client_role_actions, "action", found.id, actions)

    async def actions(self, realm: str, client_id: str, role: str) -> list[str]:
        found = await self.get(realm, client_id, role)
        query = (
            select(client_role_actions.c.action)
            .where(client_role_actions.c.role_id == found.id)
            .order_by(client_role_actions.c.action)
        )
        async with self._registry.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def remove_actions(
        self, realm: str, client_id: str, role: str, actions: Sequence[str] | None = None
    ) -> None:
        """Take ``actions`` (all when None) from a role; actions it does not have are ignored."""
        found = await self.get(realm, client_id, role)
        await self._remove(client_role_actions, "action", found.id, actions)

    async def add_members(self, realm: str, client_id: str, role: str, members: Sequence[str]) -> None:
        found = await self.get(realm, client_id, role)
        await self._check_users(members)
        await self._add(client_role_members, "member", found.id, members)

    async def members(
        self, realm: str, client_id: str, role: str, *, offset: int, limit: int
    ) -> tuple[int, list[str]]:
        found = await self.get(realm, client_id, role)
        where = client_role_members.c.role_id == found.id
        count = select(func.count()).select_from(client_role_members).where(where)
        query = (
            select(client_role_members.c.member)
            .where(where)
            .order_by(client_role_members.c.member)
            .offset(offset)
            .limit(limit)
        )
        async with self._registry.engine.connect() as conn:
            total = (await conn.execute(count)).scalar_one()
            return int(total), list((await conn.execute(query)).scalars())

    async def remove_members(
        self, realm: str, client_id: str, role: str, members: Sequence[str] | None = None
    ) -> None:
        """Take ``members`` (all when None) from a role; users it does not have are ignored."""
        found = await self.get(realm, client_id, role)
        await self._remove(client_role_members, "member", found.id, members)

    async def _check_users(self, usernames: Sequence[str]) -> None:
        if not usernames:
            return
        query = select(users.c.username).where(users.c.username.in_(list(usernames)))
        async with self._registry.engine.connect() as conn:
            known = set((await conn.execute(query)).scalars())
        missing = [name for name in dict.fromkeys(usernames) if name not in known]
        if missing:
            raise NotFoundError(f"no user named {', '.join(repr(name) for name in missing)}")

    async def _add(self, table: Table, column: str, role_id: str, values: Sequence[str]) -> None:
        """Insert the values a role does not have yet."""
        try:
            async with self._registry.engine.begin() as conn:
                query = select(table.c[column]).where(table.c.role_id == role_id)
                have = set((await conn.execute(query)).scalars())
                for value in dict.fromkeys(values):
                    if value not in have:
                        await conn.execute(table.insert().values({"role_id": role_id, column: value}))
        except IntegrityError as exc:
            raise ConflictError(f"role {role_id} changed meanwhile; try again") from exc

    async def _remove(self, table: Table, column: str, role_id: str, values: Sequence[str] | None) -> None:
        statement = delete(table).where(table.c.role_id == role_id)
        if values is not None:
            statement = statement.where(table.c[column].in_(list(values)))
        async with self._registry.engine.begin() as conn:
            await conn.execute(statement)


def _check_actions(actions: Sequence[str]) -> None:
    unknown = unknown_actions(actions)
    if unknown:
        raise ValidationError(
            f"unknown action(s) {', '.join(repr(a) for a in unknown)}: the available actions are "
            + ", ".join(AVAILABLE_ACTIONS)
        )


def _record(row: Any) -> RoleRecord:
    return RoleRecord(
        row.role_id, row.name, row.device_id, row.created_by, row.created_at, row.updated_by, row.updated_at
    )
