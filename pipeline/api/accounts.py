"""Users, realm members, login and API keys (``/auth/v1``).

A key is shown once, when made; lists show it masked with its status and last use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from pipeline.api.auth import Caller
from pipeline.api.models import Envelope
from pipeline.errors import ForbiddenError, UnauthorizedError
from pipeline.permissions import outranks
from pipeline.registry import Accounts, ApiKeyRecord, Principal
from pipeline.registry.accounts import now_us
from pipeline.registry.secrets import API_KEY_PREFIX
from pipeline.settings import AuthSettings

router = APIRouter(tags=["auth"])


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: str
    password: str
    global_role: str = "developer"


class Login(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: str
    password: str
    realm: str | None = None


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field("api key", max_length=128)
    realm: str | None = None
    expiry_days: float | None = Field(None, gt=0, le=36_500)
    permanent: bool = False


class Member(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str


def iso(us: int | None) -> str | None:
    """Microseconds since the epoch as ISO 8601 UTC, None stays None."""
    if us is None:
        return None
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _accounts(request: Request) -> Accounts:
    return Accounts(request.app.state.platform.registry)


def _lifetime_days(request: Request) -> float:
    auth = getattr(request.app.state.platform, "auth", None)
    return auth.api_key_days if isinstance(auth, AuthSettings) else AuthSettings().api_key_days


async def issue_key(request: Request, who: Principal, ask: KeyCreate) -> dict[str, Any]:
    """Make a key for ``who`` as asked: in its realms only, permanent only for global admins."""
    if ask.permanent and who.acting_global_role != "admin":
        raise ForbiddenError("only global admins may make permanent API keys")
    realm = ask.realm or who.key.realm
    if who.key.realm is not None and realm != who.key.realm:
        raise ForbiddenError(f"this key is limited to realm {who.key.realm!r}")
    if realm is not None:
        await request.app.state.platform.registry.get_realm(realm)
        if who.role_in(realm) is None:
            raise ForbiddenError(f"{who.username or 'this key'} is not a member of realm {realm!r}")
    days = ask.expiry_days or _lifetime_days(request)
    expires_at = None if ask.permanent else now_us() + int(days * 86_400_000_000)
    key, record = await _accounts(request).create_api_key(
        ask.name,
        global_role=who.global_role if who.username is None else None,
        expires_at=expires_at,
        username=who.username,
        realm=realm,
    )
    return {"key": key, "id": record.id, "name": record.name, "realm": realm, "expires_at": iso(expires_at)}


def masked(record: ApiKeyRecord, now: int) -> dict[str, Any]:
    """A key as lists show it: never the secret part."""
    return {
        "id": record.id,
        "key": f"{API_KEY_PREFIX}{record.id}_****",
        "name": record.name,
        "username": record.username,
        "realm": record.realm,
        "status": record.status(now),
        "created_at": iso(record.created_at),
        "expires_at": iso(record.expires_at),
        "last_used_at": iso(record.last_used_at),
    }


@router.post("/login", status_code=201)
async def login(request: Request, body: Envelope[Login]) -> dict[str, Any]:
    """Trade a username and password for a new API key (30 days by default), for one realm if named."""
    accounts = _accounts(request)
    global_role = await accounts.check_password(body.data.username, body.data.password)
    if global_role is None:
        raise UnauthorizedError("wrong username or password")
    key = ApiKeyRecord("", "login", None, None, body.data.username)
    who = Principal(key, global_role, await accounts.roles(body.data.username))
    return {"data": await issue_key(request, who, KeyCreate(name="login", realm=body.data.realm))}


@router.get("/whoami")
async def whoami(who: Caller) -> dict[str, Any]:
    """The caller's user, roles and key."""
    realm = who.key.realm
    roles = {realm: who.role_in(realm)} if realm else dict(who.roles)
    data = {"username": who.username, "global_role": who.global_role, "realm": realm, "roles": roles}
    key = {"key_id": who.id, "key_name": who.key.name, "expires_at": iso(who.key.expires_at)}
    return {"data": {**data, **key}}


@router.post("/users", status_code=201)
async def create_user(request: Request, body: Envelope[UserCreate], _caller: Caller) -> dict[str, Any]:
    """Create a user (global admins only); the password is kept as an argon2 hash."""
    user = body.data
    await _accounts(request).create_user(user.username, user.password, user.global_role)
    return {"data": {"username": user.username, "global_role": user.global_role}}


@router.get("/users")
async def list_users(request: Request, _caller: Caller) -> dict[str, Any]:
    return {"data": await _accounts(request).users()}


@router.get("/realms/{realm}/members")
async def list_members(request: Request, realm: str, _caller: Caller) -> dict[str, Any]:
    await request.app.state.platform.registry.get_realm(realm)
    return {"data": await _accounts(request).members(realm)}


@router.put("/realms/{realm}/members/{username}")
async def set_member(
    request: Request, realm: str, username: str, body: Envelope[Member], who: Caller
) -> dict[str, Any]:
    """Give a user a role in a realm; only owners make or change owners."""
    mine = who.role_in(realm) or ""
    current = (await _accounts(request).members(realm)).get(username)
    for role in (body.data.role, current):
        if role == "owner" and not outranks(mine, "owner"):
            raise ForbiddenError("only realm owners make or change owners")
    await _accounts(request).set_member(realm, username, body.data.role)
    return {"data": {"realm": realm, "username": username, "role": body.data.role}}


@router.delete("/realms/{realm}/members/{username}", status_code=204)
async def remove_member(request: Request, realm: str, username: str, who: Caller) -> Response:
    current = (await _accounts(request).members(realm)).get(username)
    if current == "owner" and not outranks(who.role_in(realm) or "", "owner"):
        raise ForbiddenError("only realm owners remove owners")
    await _accounts(request).remove_member(realm, username)
    return Response(status_code=204)


@router.post("/apikeys", status_code=201)
async def create_key(request: Request, body: Envelope[KeyCreate], who: Caller) -> dict[str, Any]:
    """A new key for the caller's user (shown once)."""
    return {"data": await issue_key(request, who, body.data)}


@router.get("/apikeys")
async def list_keys(
    request: Request, who: Caller, realm: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    """The caller's keys (global admins: all); with ``realm``, the keys issued for it (its admins)."""
    accounts = _accounts(request)
    if realm is not None:
        if not outranks(who.role_in(realm) or "", "admin"):
            raise ForbiddenError(f"only admins of realm {realm!r} list its keys")
        keys = await accounts.api_keys(realm=realm)
    elif who.acting_global_role == "admin":
        keys = await accounts.api_keys()
    else:
        keys = await accounts.api_keys(username=who.username, realm=who.key.realm)
    now = now_us()
    return {"data": [masked(record, now) for record in keys]}


@router.delete("/apikeys/{key_id}", status_code=204)
async def revoke_key(request: Request, key_id: str, who: Caller) -> Response:
    """Revoke a key: the caller's own, one of a realm it administers, or any for global admins."""
    accounts = _accounts(request)
    record = await accounts.get_api_key(key_id)
    own = record.username is not None and record.username == who.username
    own = own and (who.key.realm is None or record.realm == who.key.realm)
    if not (own or record.id == who.id or outranks(who.role_in(record.realm) or "", "admin")):
        raise ForbiddenError(f"API key {key_id} is not yours to revoke")
    await accounts.revoke_api_key(key_id)
    return Response(status_code=204)
