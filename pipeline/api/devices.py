"""AppEngine devices: status, listing and stats (``/appengine/v1/{realm}``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from pipeline.api.auth import Caller
from pipeline.api.models import Envelope
from pipeline.changes import announce
from pipeline.registry.metadata import DeviceMetadata
from pipeline.registry.status import DeviceStatusBook

router = APIRouter(tags=["appengine"])


def _book(request: Request) -> DeviceStatusBook:
    return DeviceStatusBook(request.app.state.platform.registry)


@router.get("/devices")
async def list_devices(
    request: Request,
    realm: str,
    _caller: Caller,
    from_token: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    details: bool = False,
) -> dict[str, Any]:
    """Device ids (or statuses with ``details``) in pages; ``links.next`` names the next page."""
    await request.app.state.platform.registry.get_realm(realm)
    book = _book(request)
    ids = await book.device_ids(realm, after=from_token, limit=limit)
    data: list[Any] = [await book.status(realm, i) for i in ids] if details else ids
    body: dict[str, Any] = {"data": data}
    if len(ids) == limit:
        suffix = "&details=true" if details else ""
        body["links"] = {"next": f"/v1/{realm}/devices?from_token={ids[-1]}&limit={limit}{suffix}"}
    return body


@router.get("/devices/{device_id}")
async def device_status(request: Request, realm: str, device_id: str, _caller: Caller) -> dict[str, Any]:
    """Astarte's device status: connection, introspection with exchanged counts, registration times."""
    return {"data": await _book(request).status(realm, device_id)}


class DevicePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    aliases: dict[str, str | None] | None = None
    attributes: dict[str, str | None] | None = None
    credentials_inhibited: bool | None = None


@router.patch("/devices/{device_id}")
async def patch_device(
    request: Request, realm: str, device_id: str, body: Envelope[DevicePatch], _caller: Caller
) -> dict[str, Any]:
    """Change aliases and attributes (null deletes a key) and credentials inhibition.

    An inhibited device is disconnected and refused until the inhibition is lifted.
    """
    platform = request.app.state.platform
    patch = body.data
    await DeviceMetadata(platform.registry).patch(
        realm,
        device_id,
        aliases=patch.aliases,
        attributes=patch.attributes,
        credentials_inhibited=patch.credentials_inhibited,
    )
    if patch.credentials_inhibited is not None:
        await announce(platform.producer, platform.topics.registry, "device", realm, device_id)
    return {"data": await _book(request).status(realm, device_id)}


@router.get("/devices-by-alias/{alias}")
async def device_status_by_alias(request: Request, realm: str, alias: str, _caller: Caller) -> dict[str, Any]:
    """The status of the device that has ``alias``."""
    device_id = await DeviceMetadata(request.app.state.platform.registry).device_by_alias(realm, alias)
    return {"data": await _book(request).status(realm, device_id)}


@router.get("/stats/devices")
async def device_stats(request: Request, realm: str, _caller: Caller) -> dict[str, Any]:
    """How many devices a realm has and how many are connected."""
    return {"data": await _book(request).stats(realm)}
