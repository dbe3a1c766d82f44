"""The Magistrala clients API (``/{domain_id}/clients``): a realm's devices seen as clients.

The domain id is the realm's name and a client id a device id. A client connects over MQTT
as its device does: username ``<domain_id>/<client id>``, password its credentials secret.
Where each field is kept is told in ``pipeline.registry.clients``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from pipeline.api.auth import Caller
from pipeline.api.pairing import publish_registration
from pipeline.changes import announce
from pipeline.registry.clients import MIN_SECRET_LENGTH, ClientRecord, Clients, NewClient
from pipeline.store.erasure import erase
from pipeline.store.readings import iso_time

router = APIRouter(tags=["clients"])

Alias = Annotated[str, StringConstraints(max_length=256)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=256)]
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Secret = Annotated[str, StringConstraints(min_length=MIN_SECRET_LENGTH, max_length=4096)]
Limit = Annotated[int, Query(ge=1, le=100, description="How many to answer with (at most 100).")]
Offset = Annotated[int, Query(ge=0, description="How many to skip.")]


class Credentials(BaseModel):
    """What a client connects with; its identity is an alias, its secret the MQTT password."""

    model_config = ConfigDict(extra="forbid")

    identity: Alias = ""
    secret: Secret | None = None


class ClientCreate(BaseModel):
    """A new client; without ``credentials.secret`` one is generated."""

    model_config = ConfigDict(extra="forbid")

    name: Alias = ""
    tags: list[Tag] = Field(default_factory=list)
    credentials: Credentials = Field(default_factory=Credentials)
    metadata: dict[MetadataKey, str] = Field(default_factory=dict)
    status: Literal["enabled", "disabled"] = "enabled"


class ClientUpdate(BaseModel):
    """A new name (empty removes it) and new metadata (replacing the old); what is left out stays."""

    model_config = ConfigDict(extra="forbid")

    name: Alias | None = None
    metadata: dict[MetadataKey, str] | None = None


class ClientTags(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[Tag]


class ClientSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: Secret


class ParentGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parent_group_id: str


def client_json(client: ClientRecord, secret: str | None = None) -> dict[str, Any]:
    """A client in Magistrala's JSON; the secret only when it was just set (it is kept hashed)."""
    credentials = {"identity": client.identity}
    if secret is not None:
        credentials["secret"] = secret
    body: dict[str, Any] = {
        "id": client.id,
        "name": client.name,
        "tags": list(client.tags),
        "domain_id": client.realm,
        "credentials": credentials,
        "metadata": client.metadata,
        "status": "enabled" if client.enabled else "disabled",
        "created_at": iso_time(client.created_at),
        "updated_at": iso_time(client.updated_at),
    }
    if client.parent_group is not None:
        body["parent_group_id"] = client.parent_group
    return body


def _clients(request: Request) -> Clients:
    return Clients(request.app.state.platform.registry)


async def _announce(request: Request, kind: str, realm: str, name: str) -> None:
    # Brokers drop a device that may no longer connect; trigger evaluation follows group changes.
    platform = request.app.state.platform
    await announce(platform.producer, platform.topics.registry, kind, realm, name)


@router.post("", status_code=201)
async def create_client(
    request: Request, response: Response, domain_id: str, body: ClientCreate, _caller: Caller
) -> dict[str, Any]:
    """Create a client: a new device of the realm, with its secret shown this once."""
    new = NewClient(
        name=body.name,
        identity=body.credentials.identity,
        secret=body.credentials.secret,
        tags=tuple(body.tags),
        metadata=body.metadata,
        enabled=body.status == "enabled",
    )
    client, secret = await _clients(request).create(domain_id, new)
    await publish_registration(request.app.state.platform, domain_id, client.id)
    response.headers["Location"] = f"/{domain_id}/clients/{client.id}"
    return client_json(client, secret)


@router.get("")
async def list_clients(
    request: Request, domain_id: str, _caller: Caller, limit: Limit = 10, offset: Offset = 0
) -> dict[str, Any]:
    """A page of the domain's clients, oldest first, with how many there are."""
    total, page = await _clients(request).page(domain_id, offset=offset, limit=limit)
    return {"total": total, "offset": offset, "limit": limit, "clients": [client_json(c) for c in page]}


@router.get("/{client_id}")
async def get_client(request: Request, domain_id: str, client_id: str, _caller: Caller) -> dict[str, Any]:
    return client_json(await _clients(request).get(domain_id, client_id))


@router.patch("/{client_id}")
async def update_client(
    request: Request, domain_id: str, client_id: str, body: ClientUpdate, _caller: Caller
) -> dict[str, Any]:
    """Change the name and replace the metadata."""
    client = await _clients(request).update(domain_id, client_id, name=body.name, metadata=body.metadata)
    return client_json(client)


@router.patch("/{client_id}/tags")
async def update_client_tags(
    request: Request, domain_id: str, client_id: str, body: ClientTags, _caller: Caller
) -> dict[str, Any]:
    """Replace the tags."""
    return client_json(await _clients(request).update(domain_id, client_id, tags=body.tags))


@router.patch("/{client_id}/secret")
async def update_client_secret(
    request: Request, domain_id: str, client_id: str, body: ClientSecret, _caller: Caller
) -> dict[str, Any]:
    """Rotate the credentials secret (the MQTT password); a live connection stays until it ends."""
    client = await _clients(request).set_secret(domain_id, client_id, body.secret)
    return client_json(client, body.secret)


@router.post("/{client_id}/enable")
async def enable_client(request: Request, domain_id: str, client_id: str, _caller: Caller) -> dict[str, Any]:
    """Let a disabled client connect again; 409 when it is enabled."""
    client = await _clients(request).set_enabled(domain_id, client_id, True)
    await _announce(request, "device", domain_id, client_id)
    return client_json(client)


@router.post("/{client_id}/disable")
async def disable_client(request: Request, domain_id: str, client_id: str, _caller: Caller) -> dict[str, Any]:
    """Disconnect a client and refuse it until it is enabled; 409 when it is disabled."""
    client = await _clients(request).set_enabled(domain_id, client_id, False)
    await _announce(request, "device", domain_id, client_id)
    return client_json(client)


@router.post("/{client_id}/parent", status_code=202)
async def set_parent_group(
    request: Request, domain_id: str, client_id: str, body: ParentGroup, _caller: Caller
) -> Response:
    """Put the client in an AppEngine group as its parent (the group is created if it has no devices)."""
    if await _clients(request).set_parent(domain_id, client_id, body.parent_group_id):
        await _announce(request, "group", domain_id, body.parent_group_id)
    return Response(status_code=202)


@router.delete("/{client_id}/parent", status_code=204)
async def remove_parent_group(request: Request, domain_id: str, client_id: str, _caller: Caller) -> Response:
    """Take the client out of its parent group (nothing happens when it has none)."""
    group = await _clients(request).remove_parent(domain_id, client_id)
    if group is not None:
        await _announce(request, "group", domain_id, group)
    return Response(status_code=204)


@router.delete("/{client_id}", status_code=204)
async def delete_client(request: Request, domain_id: str, client_id: str, _caller: Caller) -> Response:
    """Delete the device as Realm Management does: disconnected at once, its stored data erased too."""
    groups = await _clients(request).delete(domain_id, client_id)
    await _announce(request, "device", domain_id, client_id)
    for group in groups:
        await _announce(request, "group", domain_id, group)
    await erase(request.app.state.platform.store, domain_id, client_id)
    return Response(status_code=204)
