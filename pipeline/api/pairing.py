"""Pairing (``/pairing/v1/{realm}``): agent registration, and a device's own transport info and certificate.

Agent routes take an API key; a device's own routes take its credentials secret
as ``Authorization: Bearer <secret>``, as the Astarte SDKs send it.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, ConfigDict

from pipeline.api.auth import Caller
from pipeline.api.health import VERSION
from pipeline.api.models import AgentRegistration, Envelope
from pipeline.changes import announce
from pipeline.errors import ForbiddenError, NotFoundError, UnauthorizedError, ValidationError
from pipeline.registry.lifecycle import DeviceLifecycle
from schemas.introspection import parse_initial_introspection
from schemas.names import device_id_error
from schemas.records import device_events

if TYPE_CHECKING:
    from pipeline.api.app import Platform

router = APIRouter(tags=["pairing"])
PROTOCOL = "astarte_mqtt_v1"


class CsrBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    csr: str


class CertificateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    client_crt: str


@router.post("/agent/devices", status_code=201)
async def register_device(
    request: Request, realm: str, body: Envelope[AgentRegistration], _caller: Caller
) -> dict[str, Any]:
    """Register a device (or renew its secret before it asked for credentials)."""
    problem = device_id_error(body.data.hw_id)
    if problem:
        raise ValidationError(problem)
    introspection = None
    if body.data.initial_introspection is not None:
        introspection = parse_initial_introspection(body.data.initial_introspection)
        if isinstance(introspection, str):
            raise ValidationError(introspection)
    platform = request.app.state.platform
    secret = await platform.registry.register_device(realm, body.data.hw_id, introspection)
    await publish_registration(platform, realm, body.data.hw_id)
    return {"data": {"credentials_secret": secret}}


async def publish_registration(platform: Platform, realm: str, device_id: str) -> None:
    """The ``device_registered`` event of a new device, on the device-events topic (triggers see it)."""
    record = device_events().encode(
        {
            "timestamp": time.time_ns() // 1000,
            "realm": realm,
            "device_id": device_id,
            "type": "device_registered",
            "ip_address": None,
            "error_name": None,
            "metadata": {},
        }
    )
    await platform.producer.send_and_wait(
        platform.topics.device_events, record, key=f"{realm}/{device_id}".encode()
    )


@router.delete("/agent/devices/{device_id}", status_code=204)
async def unregister_device(request: Request, realm: str, device_id: str, _caller: Caller) -> Response:
    """Unregister a device: its secret stops working and it may be registered again; data is kept."""
    await DeviceLifecycle(request.app.state.platform.registry).unregister(realm, device_id)
    return Response(status_code=204)


async def _device(request: Request, realm: str, hw_id: str, authorization: str | None) -> None:
    """Check the device's own credentials secret; 401 without it, 403 when inhibited.

    Only a caller with the right secret learns that the device is inhibited (or exists).
    """
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret:
        raise UnauthorizedError("send the device's credentials secret as Authorization: Bearer <secret>")
    registry = request.app.state.platform.registry
    if not await registry.authenticate_device(realm, hw_id, secret.strip()):
        if await registry.authenticate_device(realm, hw_id, secret.strip(), inhibited_too=True):
            raise ForbiddenError(f"credentials of device {hw_id} are inhibited")
        raise UnauthorizedError(f"unknown device {hw_id} or wrong credentials secret")


@router.get("/devices/{hw_id}")
async def transport_info(
    request: Request, realm: str, hw_id: str, authorization: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    """Where the device connects: the MQTTS broker URL."""
    await _device(request, realm, hw_id, authorization)
    platform = request.app.state.platform
    if platform.mqtts_url is None:
        raise NotFoundError("this installation has no MQTTS listener (mqtt.tls_port is off)")
    return {
        "data": {
            "version": VERSION,
            "status": "confirmed",
            "protocols": {PROTOCOL: {"broker_url": platform.mqtts_url}},
        }
    }


@router.post(f"/devices/{{hw_id}}/protocols/{PROTOCOL}/credentials", status_code=201)
async def credentials(
    request: Request,
    realm: str,
    hw_id: str,
    body: Envelope[CsrBody],
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Sign the device's CSR (common name ``<realm>/<device_id>``) with the realm's CA."""
    await _device(request, realm, hw_id, authorization)
    platform = request.app.state.platform
    certificate = platform.pki.realm(realm).sign_csr(body.data.csr, f"{realm}/{hw_id}")
    await platform.registry.record_credentials_request(realm, hw_id)
    # Brokers learn of a realm CA they have not seen yet from this notice.
    await announce(platform.producer, platform.topics.registry, "realm-ca", realm)
    return {"data": {"client_crt": certificate}}


@router.post(f"/devices/{{hw_id}}/protocols/{PROTOCOL}/credentials/verify")
async def verify(
    request: Request,
    realm: str,
    hw_id: str,
    body: Envelope[CertificateBody],
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Whether a certificate is valid for this device, until when, and why not."""
    await _device(request, realm, hw_id, authorization)
    valid, until, cause = request.app.state.platform.pki.realm(realm).verify(
        body.data.client_crt, f"{realm}/{hw_id}"
    )
    data: dict[str, Any] = {"valid": valid, "timestamp": _iso(dt.datetime.now(dt.UTC))}
    if until is not None:
        data["until"] = _iso(until)
    if cause is not None:
        data["cause"] = cause
        data["details"] = f"certificate refused: {cause.lower().replace('_', ' ')}"
    return {"data": data}


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
