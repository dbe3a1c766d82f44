"""Realm management: interfaces (``/realmmanagement/v1/{realm}``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from pipeline.api.auth import Caller
from pipeline.api.models import Envelope
from pipeline.changes import announce
from schemas.interface import parse_interface

router = APIRouter(tags=["realm management"])


@router.get("/interfaces")
async def list_interfaces(
    request: Request, realm: str, _caller: Caller, detailed: bool = False
) -> dict[str, Any]:
    registry = request.app.state.platform.registry
    await registry.get_realm(realm)
    installed = [interface for _, interface in await registry.interfaces(realm)]
    if detailed:
        return {"data": [interface.to_json() for interface in installed]}
    return {"data": sorted({interface.name for interface in installed})}


@router.post("/interfaces", status_code=201)
async def install_interface(
    request: Request, realm: str, body: Envelope[dict[str, Any]], _caller: Caller
) -> dict[str, Any]:
    platform = request.app.state.platform
    interface = parse_interface(body.data)
    await platform.registry.install_interface(realm, interface)
    await announce(platform.producer, platform.topics.registry, "interface", realm, interface.name)
    return {"data": interface.to_json()}


@router.get("/interfaces/{name}/{major}")
async def get_interface(
    request: Request, realm: str, name: str, major: int, _caller: Caller
) -> dict[str, Any]:
    interface = await request.app.state.platform.registry.get_interface(realm, name, major)
    return {"data": interface.to_json()}
