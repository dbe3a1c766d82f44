"""The registry facade: one async SQL layer over SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import delete, event, func, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from pipeline.errors import ConflictError, NotFoundError, ValidationError
from pipeline.registry import secrets
from pipeline.registry.accounts import Accounts, ApiKeyRecord
from pipeline.registry.tables import device_status, devices, interfaces, metadata, realms, triggers
from schemas.interface import Interface, interface_names_collide, parse_interface
from schemas.triggers import parse_trigger
from schemas.upgrade import minor_upgrade_error


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class RealmRecord:
    name: str
    jwt_public_key_pem: str | None
    device_registration_limit: int | None = None
    datastream_maximum_storage_retention: int | None = None
    default_policy: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    realm: str
    device_id: str
    first_registration: int
    first_credentials_request: int | None
    credentials_inhibited: bool


class Registry:
    """Owns the registry's engine; ``async with Registry(url)`` opens and migrates it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: AsyncEngine | None = None

    async def start(self) -> None:
        engine = create_async_engine(self.url)
        if engine.dialect.name == "sqlite":
            database = engine.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.run_sync(_add_missing_columns)
        self._engine = engine

    async def stop(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the registry is not started")
        return self._engine

    # realms

    async def create_realm(self, name: str, jwt_public_key_pem: str | None = None) -> RealmRecord:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    realms.insert().values(
                        name=name, jwt_public_key_pem=jwt_public_key_pem, created_at=_now_us()
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"realm {name!r} already exists") from exc
        return RealmRecord(name, jwt_public_key_pem)

    async def get_realm(self, name: str) -> RealmRecord:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(realms).where(realms.c.name == name))).first()
        if row is None:
            raise NotFoundError(f"realm {name!r} not found")
        return RealmRecord(
            row.name,
            row.jwt_public_key_pem,
            row.device_registration_limit,
            row.datastream_maximum_storage_retention,
            row.default_policy,
        )

    async def update_realm(self, name: str, **changes: Any) -> RealmRecord:
        """Change a realm's fields (jwt_public_key_pem, device_registration_limit, ...); None clears."""
        await self.get_realm(name)
        if changes:
            async with self.engine.begin() as conn:
                await conn.execute(update(realms).where(realms.c.name == name).values(**changes))
        return await self.get_realm(name)

    async def delete_realm(self, name: str) -> None:
        """Delete a realm and, by cascade, its interfaces, devices and memberships."""
        await self.get_realm(name)
        async with self.engine.begin() as conn:
            await conn.execute(delete(realms).where(realms.c.name == name))

    async def list_realms(self) -> list[str]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(select(realms.c.name).order_by(realms.c.name))).scalars())

    # interfaces

    async def install_interface(self, realm: str, interface: Interface) -> None:
        """Install a new interface, or a new major of one; 409 for a duplicate or a colliding name."""
        await self.get_realm(realm)
        for name in await self.interface_names(realm):
            if name != interface.name and interface_names_collide(name, interface.name):
                raise ConflictError(
                    f"interface name {interface.name} collides with the installed {name} "
                    "(names equal without '-' and case are refused)"
                )
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    interfaces.insert().values(
                        realm=realm,
                        name=interface.name,
                        major=interface.major,
                        minor=interface.minor,
                        definition=json.dumps(interface.to_json()),
                        installed_at=_now_us(),
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(
                f"interface {interface.name} v{interface.major} is already installed in realm {realm!r}"
            ) from exc

    async def interfaces(self, realm: str | None = None) -> list[tuple[str, Interface]]:
        """Installed interfaces as ``(realm, interface)``, of one realm or of all."""
        query = select(interfaces.c.realm, interfaces.c.definition).order_by(
            interfaces.c.realm, interfaces.c.name, interfaces.c.major
        )
        if realm is not None:
            query = query.where(interfaces.c.realm == realm)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(row.realm, parse_interface(row.definition)) for row in rows]

    async def interface_names(self, realm: str) -> list[str]:
        query = (
            select(interfaces.c.name)
            .where(interfaces.c.realm == realm)
            .distinct()
            .order_by(interfaces.c.name)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def interface_majors(self, realm: str, name: str) -> list[int]:
        """The installed majors of an interface; NotFoundError when there is none."""
        query = (
            select(interfaces.c.major)
            .where(interfaces.c.realm == realm, interfaces.c.name == name)
            .order_by(interfaces.c.major)
        )
        async with self.engine.connect() as conn:
            majors = list((await conn.execute(query)).scalars())
        if not majors:
            await self.get_realm(realm)
            raise NotFoundError(f"interface {name} not found in realm {realm!r}")
        return majors

    async def update_interface(self, realm: str, interface: Interface) -> None:
        """Replace an installed interface by a minor upgrade of it (Astarte's rules)."""
        installed = await self.get_interface(realm, interface.name, interface.major)
        problem = minor_upgrade_error(installed, interface)
        if problem:
            raise ValidationError(f"interface {interface.name} v{interface.major}: {problem}")
        async with self.engine.begin() as conn:
            await conn.execute(
                update(interfaces)
                .where(
                    interfaces.c.realm == realm,
                    interfaces.c.name == interface.name,
                    interfaces.c.major == interface.major,
                    interfaces.c.minor == installed.minor,
                )
                .values(minor=interface.minor, definition=json.dumps(interface.to_json()))
            )

    async def delete_interface(self, realm: str, name: str, major: int) -> None:
        """Delete a draft (major 0) interface; later majors are refused, as in Astarte."""
        await self.get_interface(realm, name, major)
        if major != 0:
            raise ValidationError(f"interface {name} v{major}: only major version 0 can be deleted")
        users = await self.devices_using(realm, name, major)
        if users:
            raise ConflictError(
                f"interface {name} v{major} is in the introspection of {len(users)} device(s), "
                f"e.g. {users[0]}: it cannot be deleted while in use"
            )
        watchers = await self.triggers_using(realm, name, major)
        if watchers:
            raise ConflictError(
                f"interface {name} v{major} is watched by trigger(s) {', '.join(watchers)}: delete them first"
            )
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(interfaces).where(
                    interfaces.c.realm == realm, interfaces.c.name == name, interfaces.c.major == major
                )
            )

    async def device_introspection(self, realm: str, device_id: str) -> dict[str, tuple[int, int]]:
        """The interfaces (major, minor) of a device's last known introspection; empty if none."""
        query = select(device_status.c.introspection).where(
            device_status.c.realm == realm, device_status.c.device_id == device_id
        )
        async with self.engine.connect() as conn:
            stored = (await conn.execute(query)).scalar()
        return {name: (v[0], v[1]) for name, v in json.loads(stored or "{}").items()}

    async def devices_using(self, realm: str, name: str, major: int) -> list[str]:
        """The devices whose last introspection declares ``name`` at ``major``."""
        query = select(device_status.c.device_id, device_status.c.introspection).where(
            device_status.c.realm == realm, device_status.c.introspection.contains(f'"{name}"')
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return sorted(
            row.device_id for row in rows if json.loads(row.introspection).get(name, [None])[0] == major
        )

    async def triggers_using(self, realm: str, name: str, major: int) -> list[str]:
        """The triggers with a condition on ``name`` at ``major`` (or at any major)."""
        query = select(triggers.c.name, triggers.c.definition).where(
            triggers.c.realm == realm, triggers.c.definition.contains(name)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return sorted(
            row.name
            for row in rows
            if any(
                leaf.interface_name == name and leaf.interface_major in (None, major)
                for leaf in parse_trigger(row.definition).data_leaves()
            )
        )

    async def get_interface(self, realm: str, name: str, major: int) -> Interface:
        query = select(interfaces.c.definition).where(
            interfaces.c.realm == realm, interfaces.c.name == name, interfaces.c.major == major
        )
        async with self.engine.connect() as conn:
            definition = (await conn.execute(query)).scalar()
        if definition is None:
            raise NotFoundError(f"interface {name} v{major} not found in realm {realm!r}")
        return parse_interface(definition)

    # devices

    async def register_device(
        self, realm: str, device_id: str, introspection: dict[str, tuple[int, int]] | None = None
    ) -> str:
        """Register a device, or renew its secret while it has not asked for credentials.

        ``introspection`` (Astarte's ``initial_introspection``) is the device's introspection until
        it sends one.
        """
        limit = (await self.get_realm(realm)).device_registration_limit
        secret = secrets.new_token()
        async with self.engine.begin() as conn:
            existing = (
                await conn.execute(
                    select(devices.c.first_credentials_request).where(
                        devices.c.realm == realm, devices.c.device_id == device_id
                    )
                )
            ).first()
            if existing is None:
                await check_registration_limit(conn, realm, limit)
                await conn.execute(
                    devices.insert().values(
                        realm=realm,
                        device_id=device_id,
                        secret_hash=secrets.digest(secret),
                        first_registration=_now_us(),
                        credentials_inhibited=False,
                    )
                )
            elif existing.first_credentials_request is not None:
                raise ConflictError(f"device {device_id} already requested credentials in realm {realm!r}")
            else:
                await conn.execute(
                    update(devices)
                    .where(devices.c.realm == realm, devices.c.device_id == device_id)
                    .values(secret_hash=secrets.digest(secret))
                )
            if introspection is not None:
                declared = json.dumps({name: list(version) for name, version in introspection.items()})
                where = (device_status.c.realm == realm, device_status.c.device_id == device_id)
                changed = await conn.execute(
                    update(device_status).where(*where).values(introspection=declared)
                )
                if not changed.rowcount:
                    await conn.execute(
                        device_status.insert().values(
                            realm=realm, device_id=device_id, introspection=declared
                        )
                    )
        return secret

    async def get_device(self, realm: str, device_id: str) -> DeviceRecord:
        query = select(devices).where(devices.c.realm == realm, devices.c.device_id == device_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFoundError(f"device {device_id} not found in realm {realm!r}")
        return DeviceRecord(
            row.realm,
            row.device_id,
            row.first_registration,
            row.first_credentials_request,
            bool(row.credentials_inhibited),
        )

    async def device_may_connect(self, realm: str, device_id: str) -> bool:
        """Whether a registered device may connect (its credentials are not inhibited)."""
        query = select(devices.c.credentials_inhibited).where(
            devices.c.realm == realm, devices.c.device_id == device_id
        )
        async with self.engine.connect() as conn:
            inhibited = (await conn.execute(query)).first()
        return inhibited is not None and not inhibited[0]

    async def record_credentials_request(self, realm: str, device_id: str) -> None:
        """Note that a device asked for its certificate (the first time is kept)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(devices)
                .where(
                    devices.c.realm == realm,
                    devices.c.device_id == device_id,
                    devices.c.first_credentials_request.is_(None),
                )
                .values(first_credentials_request=_now_us())
            )

    async def authenticate_device(
        self, realm: str, device_id: str, secret: str, *, inhibited_too: bool = False
    ) -> bool:
        """Whether ``secret`` is the device's credentials secret and the device may connect.

        With ``inhibited_too``, only whether the secret is right, inhibited or not.
        """
        query = select(devices.c.secret_hash, devices.c.credentials_inhibited).where(
            devices.c.realm == realm, devices.c.device_id == device_id
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None or (row.credentials_inhibited and not inhibited_too):
            return False
        return secrets.matches(secret, row.secret_hash)

    # API keys (kept here for their callers; users, memberships and keys live in ``accounts``)

    @property
    def accounts(self) -> Accounts:
        return Accounts(self)

    async def create_api_key(
        self, name: str, *, global_role: str | None = None, expires_at: int | None = None
    ) -> tuple[str, ApiKeyRecord]:
        """A new API key, returned once in clear with its record."""
        return await self.accounts.create_api_key(name, global_role=global_role, expires_at=expires_at)

    async def verify_api_key(self, key: str) -> ApiKeyRecord | None:
        """The record of a valid (known, unrevoked, unexpired) key, else None."""
        return await self.accounts.verify_api_key(key)


async def check_registration_limit(conn: AsyncConnection, realm: str, limit: int | None) -> None:
    """Refuse one more device in ``realm`` when it holds ``limit`` devices already."""
    if limit is None:
        return
    count = select(func.count()).select_from(devices).where(devices.c.realm == realm)
    if (await conn.execute(count)).scalar_one() >= limit:
        raise ValidationError(f"realm {realm!r} reached its device_registration_limit ({limit})")


def _add_missing_columns(sync_conn: Any) -> None:
    # create_all makes missing tables only: registries made by an older version get new nullable columns.
    existing = inspect(sync_conn)
    for table in metadata.sorted_tables:
        have = {column["name"] for column in existing.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have and column.nullable:
                kind = column.type.compile(dialect=sync_conn.dialect)
                # PostgreSQL's IF NOT EXISTS lets processes that start together both get here.
                guard = "IF NOT EXISTS " if sync_conn.dialect.name == "postgresql" else ""
                sync_conn.execute(
                    text(f'ALTER TABLE "{table.name}" ADD COLUMN {guard}"{column.name}" {kind}')
                )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the broker read while the API writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
