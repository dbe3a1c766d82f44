"""Pairing: agent registration of devices (``/pairing/v1/{realm}``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from pipeline.api.auth import Caller
from pipeline.api.models import AgentRegistration, Envelope
from pipeline.errors import ValidationError
from schemas.names import device_id_error

router = APIRouter(tags=["pairing"])


@router.post("/agent/devices", status_code=201)
async def register_device(
    request: Request, realm: str, body: Envelope[AgentRegistration], _caller: Caller
) -> dict[str, Any]:
    """Register a device (or renew its secret before it asked for credentials)."""
    problem = device_id_error(body.data.hw_id)
    if problem:
        raise ValidationError(problem)
    secret = await request.app.state.platform.registry.register_device(realm, body.data.hw_id)
    return {"data": {"credentials_secret": secret}}
