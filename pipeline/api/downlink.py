"""AppEngine writes to server-owned interfaces: POST (datastream), PUT or POST (property), DELETE (unset).

A value is validated with the interface's own codec, recorded like any reading
(so queries show it) and put on the downlink topic, which every broker follows;
the one holding the device's session publishes it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
import zlib
from typing import Any

from fastapi import APIRouter, Request, Response

from pipeline.api.auth import Caller
from pipeline.api.models import Envelope
from pipeline.errors import NotFoundError, ValidationError
from pipeline.registry.properties import ServerProperties
from schemas.interface import InterfaceType, Ownership
from schemas.payload import CompiledInterface, Decoded, Rejection
from schemas.records import downlinks, ingest_batches

router = APIRouter(tags=["appengine"])


_WRONG_METHOD = {
    InterfaceType.DATASTREAM: "{name} is a properties interface: set its values with PUT, unset with DELETE",
    InterfaceType.PROPERTIES: "{name} is a datastream interface: send its values with POST",
}


async def _compiled(
    request: Request, realm: str, device_id: str, name: str, kind: InterfaceType | None
) -> CompiledInterface:
    """The server-owned interface ``name`` of the device's realm, which must be of ``kind`` if given."""
    registry = request.app.state.platform.registry
    await registry.get_device(realm, device_id)
    try:
        majors = await registry.interface_majors(realm, name)
    except NotFoundError:
        raise NotFoundError(f"interface {name!r} is not installed in realm {realm!r}") from None
    interface = await registry.get_interface(realm, name, max(majors))
    if interface.ownership is not Ownership.SERVER:
        raise ValidationError(f"interface {name} is device-owned: only the device writes it")
    if kind is not None and interface.type is not kind:
        raise ValidationError(_WRONG_METHOD[kind].format(name=name))
    return CompiledInterface(interface)


def _decode(compiled: CompiledInterface, path: str, value: Any) -> Decoded:
    outcome = (
        compiled.decode_json(path, json.dumps({"v": value}).encode())
        if value is not None
        else (compiled.decode_json(path, b""))
    )
    if isinstance(outcome, Rejection):
        raise ValidationError(f"{outcome.error.value}: {outcome.detail}")
    return outcome


async def _send(
    request: Request, realm: str, device_id: str, compiled: CompiledInterface, path: str, decoded: Decoded
) -> None:
    platform = request.app.state.platform
    now = time.time_ns() // 1000
    mapping = compiled.interface.mappings[0] if compiled.interface.is_object else _mapping(compiled, path)
    key = f"{realm}/{device_id}".encode()
    partition_count = len(await platform.producer.partitions_for(platform.topics.ingest))
    partition = zlib.crc32(key) % partition_count
    batch = ingest_batches().encode(
        {
            "batch_id": uuid.uuid4().hex,
            "id_base": secrets.randbits(62),
            "broker_id": platform.instance_id or "api",
            "produced_at": now,
            "readings": [
                {
                    "realm": realm,
                    "device_id": device_id,
                    "interface": compiled.name,
                    "major": compiled.major,
                    "path": path,
                    "value_type": decoded.value_type,
                    "value": decoded.value,
                    "timestamp": decoded.timestamp_us or now,
                    "reception_timestamp": now,
                }
            ],
        }
    )
    # Both records go out in the same produce round; the answer waits for both acknowledgements.
    recorded = await platform.producer.send(platform.topics.ingest, batch, partition=partition)
    record = downlinks().encode(
        {
            "request_id": uuid.uuid4().hex,
            "realm": realm,
            "device_id": device_id,
            "interface": compiled.name,
            "major": compiled.major,
            "path": path,
            "value_type": decoded.value_type,
            "value": decoded.value,
            "timestamp": decoded.timestamp_us,
            "qos": compiled.interface.qos_for(mapping),
            "retention": mapping.retention.value,
            "expires_at": now + mapping.expiry * 1_000_000 if mapping.expiry else None,
            "requested_at": now,
        }
    )
    delivered = await platform.producer.send(platform.topics.downlink, record, key=key)
    await asyncio.gather(recorded, delivered)


def _mapping(compiled: CompiledInterface, path: str) -> Any:
    match = compiled.trie.resolve(path)
    if match is None:
        raise ValidationError(f"mapping_not_found: {compiled.name} has no mapping for {path}")
    return match.mapping


def _path(path: str) -> str:
    return "/" + path.strip("/")


@router.post("/devices/{device_id}/interfaces/{interface}/{path:path}")
async def send_datastream(
    request: Request,
    realm: str,
    device_id: str,
    interface: str,
    path: str,
    body: Envelope[Any],
    _caller: Caller,
) -> dict[str, Any]:
    """Send a value (or an object, at the object's path) on a server-owned datastream; on a
    properties interface POST sets the property, as Astarte's AppEngine accepts both verbs."""
    compiled = await _compiled(request, realm, device_id, interface, None)
    if compiled.interface.type is InterfaceType.PROPERTIES:
        return await _set_property(request, realm, device_id, compiled, path, body.data)
    decoded = _decode(compiled, _path(path), body.data)
    await _send(request, realm, device_id, compiled, _path(path), decoded)
    return {"data": body.data}


@router.put("/devices/{device_id}/interfaces/{interface}/{path:path}")
async def set_property(
    request: Request,
    realm: str,
    device_id: str,
    interface: str,
    path: str,
    body: Envelope[Any],
    _caller: Caller,
) -> dict[str, Any]:
    """Set a server-owned property."""
    compiled = await _compiled(request, realm, device_id, interface, InterfaceType.PROPERTIES)
    return await _set_property(request, realm, device_id, compiled, path, body.data)


async def _set_property(
    request: Request, realm: str, device_id: str, compiled: CompiledInterface, path: str, value: Any
) -> dict[str, Any]:
    if value is None:
        raise ValidationError("a property value cannot be null; DELETE unsets it")
    decoded = _decode(compiled, _path(path), value)
    await ServerProperties(request.app.state.platform.registry).set(
        realm, device_id, compiled.name, _path(path), compiled.encode_bson(decoded.value, path=_path(path))
    )
    await _send(request, realm, device_id, compiled, _path(path), decoded)
    return {"data": value}


@router.delete("/devices/{device_id}/interfaces/{interface}/{path:path}", status_code=204)
async def unset_property(
    request: Request, realm: str, device_id: str, interface: str, path: str, _caller: Caller
) -> Response:
    """Unset a server-owned property (its mapping must allow it); the device gets an empty payload."""
    compiled = await _compiled(request, realm, device_id, interface, InterfaceType.PROPERTIES)
    decoded = _decode(compiled, _path(path), None)
    await ServerProperties(request.app.state.platform.registry).unset(
        realm, device_id, interface, _path(path)
    )
    await _send(request, realm, device_id, compiled, _path(path), decoded)
    return Response(status_code=204)
