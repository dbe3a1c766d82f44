"""Users, realm memberships and API keys, over the registry's engine.

Passwords are argon2 hashes; API keys are random 256-bit tokens kept as SHA-256
(``secrets``). A key acts for its user (its global role and realm roles), limited
to one realm when it was issued for one; bootstrap keys have no user, only a role.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.errors import ConflictError, NotFoundError, ValidationError
from pipeline.permissions import GLOBAL_ROLES, REALM_ROLES
from pipeline.registry import secrets
from pipeline.registry.tables import api_keys, memberships, realms, users

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

_hasher = PasswordHasher()
# Last use is written at most this often per key (microseconds), not on every request.
_TOUCH_EVERY_US = 60_000_000


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A key as the registry keeps it (never the key itself)."""

    id: str
    name: str
    global_role: str | None
    expires_at: int | None
    username: str | None = None
    realm: str | None = None
    created_at: int | None = None
    revoked_at: int | None = None
    last_used_at: int | None = None

    def status(self, now: int) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid key speaks for: the key, its user's global role and realm roles."""

    key: ApiKeyRecord
    global_role: str | None
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.key.id

    @property
    def username(self) -> str | None:
        return self.key.username

    @property
    def acting_global_role(self) -> str | None:
        """The global role this key acts with: none when the key is limited to a realm."""
        return self.global_role if self.key.realm is None else None

    def role_in(self, realm: str | None) -> str | None:
        """The caller's role in ``realm`` through this key (owner for global admins).

        A key issued for one realm has no role anywhere else, whoever it speaks for.
        """
        if self.key.realm is not None and realm != self.key.realm:
            return None
        if self.global_role == "admin":
            return "owner"
        if realm is None:
            return None
        return self.roles.get(realm)


class Accounts:
    """Users, memberships and API keys; ``Accounts(registry)`` works on a started registry."""

    def __init__(self, owner: Any) -> None:
        self._owner = owner

    @property
    def _engine(self) -> AsyncEngine:
        engine: AsyncEngine = self._owner.engine
        return engine

    # users

    async def create_user(self, username: str, password: str, global_role: str = "developer") -> None:
        if global_role not in GLOBAL_ROLES:
            raise ValidationError(f"global_role must be one of {', '.join(GLOBAL_ROLES)}")
        if not username or len(username) > 64 or not username.isprintable() or " " in username:
            raise ValidationError("username must be 1-64 printable characters without spaces")
        if len(password) < 8:
            raise ValidationError("password must have at least 8 characters")
        row = {"username": username, "global_role": global_role, "created_at": now_us()}
        try:
            async with self._engine.begin() as conn:
                await conn.execute(users.insert().values(password_hash=_hasher.hash(password), **row))
        except IntegrityError as exc:
            raise ConflictError(f"user {username!r} already exists") from exc

    async def users(self) -> list[dict[str, Any]]:
        query = select(users.c.username, users.c.global_role).order_by(users.c.username)
        async with self._engine.connect() as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]

    async def check_password(self, username: str, password: str) -> str | None:
        """The user's global role when the password is right, else None."""
        query = select(users.c.password_hash, users.c.global_role).where(users.c.username == username)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        try:
            _hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        role: str = row.global_role
        return role

    # memberships

    async def set_member(self, realm: str, username: str, role: str) -> None:
        if role not in REALM_ROLES:
            raise ValidationError(f"role must be one of {', '.join(REALM_ROLES)}")
        async with self._engine.begin() as conn:
            if (await conn.execute(select(realms.c.name).where(realms.c.name == realm))).first() is None:
                raise NotFoundError(f"realm {realm!r} not found")
            user = select(users.c.username).where(users.c.username == username)
            if (await conn.execute(user)).first() is None:
                raise NotFoundError(f"user {username!r} not found")
            where = (memberships.c.realm == realm, memberships.c.username == username)
            await conn.execute(delete(memberships).where(*where))
            await conn.execute(memberships.insert().values(realm=realm, username=username, role=role))

    async def remove_member(self, realm: str, username: str) -> None:
        where = (memberships.c.realm == realm, memberships.c.username == username)
        async with self._engine.begin() as conn:
            if (await conn.execute(delete(memberships).where(*where))).rowcount == 0:
                raise NotFoundError(f"user {username!r} is not a member of realm {realm!r}")

    async def members(self, realm: str) -> dict[str, str]:
        query = select(memberships.c.username, memberships.c.role).where(memberships.c.realm == realm)
        async with self._engine.connect() as conn:
            return {row.username: row.role for row in await conn.execute(query)}

    async def roles(self, username: str) -> dict[str, str]:
        """The user's role in each realm it belongs to."""
        query = select(memberships.c.realm, memberships.c.role).where(memberships.c.username == username)
        async with self._engine.connect() as conn:
            return {row.realm: row.role for row in await conn.execute(query)}

    # API keys

    async def create_api_key(
        self,
        name: str,
        *,
        global_role: str | None = None,
        expires_at: int | None = None,
        username: str | None = None,
        realm: str | None = None,
    ) -> tuple[str, ApiKeyRecord]:
        """A new API key, returned once in clear with its record."""
        key, key_id = secrets.new_api_key()
        record = ApiKeyRecord(key_id, name, global_role, expires_at, username, realm, now_us())
        async with self._engine.begin() as conn:
            await conn.execute(
                api_keys.insert().values(
                    id=key_id,
                    key_hash=secrets.digest(key),
                    name=name,
                    global_role=global_role,
                    created_at=record.created_at,
                    expires_at=expires_at,
                    username=username,
                    realm=realm,
                )
            )
        return key, record

    async def verify_api_key(self, key: str) -> ApiKeyRecord | None:
        """The record of a valid (known, unrevoked, unexpired) key, else None; notes its use."""
        query = select(api_keys).where(api_keys.c.key_hash == secrets.digest(key))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        now = now_us()
        if row is None or _record(row).status(now) != "active":
            return None
        if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY_US:
            async with self._engine.begin() as conn:
                touch = update(api_keys).where(api_keys.c.id == row.id).values(last_used_at=now)
                await conn.execute(touch)
        return _record(row)

    async def principal(self, key: str) -> Principal | None:
        """Who a valid key speaks for, else None."""
        record = await self.verify_api_key(key)
        if record is None:
            return None
        if record.username is None:
            return Principal(record, record.global_role)
        query = select(users.c.global_role).where(users.c.username == record.username)
        async with self._engine.connect() as conn:
            global_role = (await conn.execute(query)).scalar()
        if global_role is None:
            return None
        return Principal(record, global_role, await self.roles(record.username))

    async def api_keys(self, *, username: str | None = None, realm: str | None = None) -> list[ApiKeyRecord]:
        """Keys of a user, or issued for a realm, or all (both None)."""
        query = select(api_keys).order_by(api_keys.c.created_at)
        if username is not None:
            query = query.where(api_keys.c.username == username)
        if realm is not None:
            query = query.where(api_keys.c.realm == realm)
        async with self._engine.connect() as conn:
            return [_record(row) for row in await conn.execute(query)]

    async def get_api_key(self, key_id: str) -> ApiKeyRecord:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        if row is None:
            raise NotFoundError(f"API key {key_id!r} not found")
        return _record(row)

    async def revoke_api_key(self, key_id: str) -> None:
        await self.get_api_key(key_id)
        async with self._engine.begin() as conn:
            await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now_us())
            )


def _record(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        row.id,
        row.name,
        row.global_role,
        row.expires_at,
        row.username,
        row.realm,
        row.created_at,
        row.revoked_at,
        row.last_used_at,
    )
