"""Realm management: interfaces (``/realmmanagement/v1/{realm}``).

Every change is announced on the registry topic, so brokers and workers use it
within a second, without restart.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from pipeline.api.auth import Caller
from pipeline.api.models import Envelope
from pipeline.changes import announce
from pipeline.errors import ValidationError
from pipeline.registry.lifecycle import DeviceLifecycle
from pipeline.store.erasure import erase
from schemas.interface import Interface, parse_interface

# A major the registry can hold (a 32-bit integer column): larger ones are refused (422), never a 500.
Major = Annotated[int, Path(ge=0, le=2**31 - 1)]

router = APIRouter(tags=["realm management"])


@router.get("/interfaces")
async def list_interfaces(
    request: Request, realm: str, _caller: Caller, detailed: bool = False
) -> dict[str, Any]:
    """Installed interface names, or with ``detailed=true`` every installed major in full."""
    registry = request.app.state.platform.registry
    await registry.get_realm(realm)
    if detailed:
        return {"data": [interface.to_json() for _, interface in await registry.interfaces(realm)]}
    return {"data": await registry.interface_names(realm)}


@router.post("/interfaces", status_code=201)
async def install_interface(
    request: Request, realm: str, body: Envelope[dict[str, Any]], _caller: Caller
) -> dict[str, Any]:
    """Install an interface (or a new major of one); 409 when installed or colliding."""
    platform = request.app.state.platform
    interface = parse_interface(body.data)
    await platform.registry.install_interface(realm, interface)
    await announce(platform.producer, platform.topics.registry, "interface", realm, interface.name)
    return {"data": interface.to_json()}


@router.get("/interfaces/{name}")
async def interface_majors(request: Request, realm: str, name: str, _caller: Caller) -> dict[str, Any]:
    """The installed major versions of an interface."""
    return {"data": await request.app.state.platform.registry.interface_majors(realm, name)}


@router.get("/interfaces/{name}/{major}")
async def get_interface(
    request: Request, realm: str, name: str, major: Major, _caller: Caller
) -> dict[str, Any]:
    """The installed definition (its latest minor) of one major."""
    interface = await request.app.state.platform.registry.get_interface(realm, name, major)
    return {"data": interface.to_json()}


@router.put("/interfaces/{name}/{major}", status_code=204)
async def update_interface(
    request: Request, realm: str, name: str, major: Major, body: Envelope[dict[str, Any]], _caller: Caller
) -> Response:
    """A minor upgrade: same name, major, type, ownership, aggregation and endpoints; a higher minor."""
    platform = request.app.state.platform
    interface = _matching(parse_interface(body.data), name, major)
    await platform.registry.update_interface(realm, interface)
    await announce(platform.producer, platform.topics.registry, "interface", realm, name)
    return Response(status_code=204)


@router.delete("/interfaces/{name}/{major}", status_code=204)
async def delete_interface(
    request: Request, realm: str, name: str, major: Major, _caller: Caller
) -> Response:
    """Delete a draft interface (major 0)."""
    platform = request.app.state.platform
    await platform.registry.delete_interface(realm, name, major)
    await announce(platform.producer, platform.topics.registry, "interface", realm, name)
    return Response(status_code=204)


@router.delete("/devices/{device_id}", status_code=204)
async def delete_device(request: Request, realm: str, device_id: str, _caller: Caller) -> Response:
    """Delete a device and everything stored of it (Astarte's device deletion).

    It is disconnected and refused at once; its registry entries go, then its rows in every
    ClickHouse table.
    """
    platform = request.app.state.platform
    await DeviceLifecycle(platform.registry).delete(realm, device_id)
    await announce(platform.producer, platform.topics.registry, "device", realm, device_id)
    await erase(platform.store, realm, device_id)
    return Response(status_code=204)


def _matching(interface: Interface, name: str, major: int) -> Interface:
    if interface.name != name or interface.major != major:
        raise ValidationError(
            f"the body defines {interface.name} v{interface.major} but the path names {name} v{major}"
        )
    return interface
