"""AppEngine groups (``/appengine/v1/{realm}/groups``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict

from pipeline.api.auth import Caller
from pipeline.api.models import Envelope
from pipeline.changes import announce
from pipeline.registry.groups import Groups

router = APIRouter(tags=["appengine"])


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    group_name: str
    devices: list[str]


class GroupDevice(BaseModel):
    model_config = ConfigDict(extra="ignore")
    device_id: str


async def _announce(request: Request, realm: str, group_name: str) -> None:
    # Trigger evaluation scopes group_name triggers by membership; it follows these notices.
    platform = request.app.state.platform
    await announce(platform.producer, platform.topics.registry, "group", realm, group_name)


def _groups(request: Request) -> Groups:
    return Groups(request.app.state.platform.registry)


@router.get("/groups")
async def list_groups(request: Request, realm: str, _caller: Caller) -> dict[str, Any]:
    await request.app.state.platform.registry.get_realm(realm)
    return {"data": await _groups(request).names(realm)}


@router.post("/groups", status_code=201)
async def create_group(
    request: Request, realm: str, body: Envelope[GroupCreate], _caller: Caller
) -> dict[str, Any]:
    """Create a group with its first devices."""
    await request.app.state.platform.registry.get_realm(realm)
    await _groups(request).create(realm, body.data.group_name, body.data.devices)
    await _announce(request, realm, body.data.group_name)
    return {"data": body.data.model_dump()}


@router.get("/groups/{group_name}")
async def get_group(request: Request, realm: str, group_name: str, _caller: Caller) -> dict[str, Any]:
    await _groups(request).members(realm, group_name)
    return {"data": {"group_name": group_name}}


@router.get("/groups/{group_name}/devices")
async def group_devices(request: Request, realm: str, group_name: str, _caller: Caller) -> dict[str, Any]:
    return {"data": await _groups(request).members(realm, group_name)}


@router.post("/groups/{group_name}/devices", status_code=201)
async def add_device(
    request: Request, realm: str, group_name: str, body: Envelope[GroupDevice], _caller: Caller
) -> dict[str, Any]:
    await _groups(request).add(realm, group_name, body.data.device_id)
    await _announce(request, realm, group_name)
    return {"data": body.data.model_dump()}


@router.delete("/groups/{group_name}/devices/{device_id}", status_code=204)
async def remove_device(
    request: Request, realm: str, group_name: str, device_id: str, _caller: Caller
) -> Response:
    await _groups(request).remove(realm, group_name, device_id)
    await _announce(request, realm, group_name)
    return Response(status_code=204)
