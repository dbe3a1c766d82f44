"""Realm management's realm settings: ``/realmmanagement/v1/{realm}/config/auth``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict

from pipeline.api.auth import Caller
from pipeline.api.models import Envelope
from pipeline.changes import announce

router = APIRouter(tags=["realm management"])


class AuthConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    jwt_public_key_pem: str


@router.get("/config/auth")
async def get_auth_config(request: Request, realm: str, _caller: Caller) -> dict[str, Any]:
    """The public key that verifies the realm's JWTs."""
    found = await request.app.state.platform.registry.get_realm(realm)
    return {"data": {"jwt_public_key_pem": found.jwt_public_key_pem}}


@router.put("/config/auth", status_code=204)
async def put_auth_config(
    request: Request, realm: str, body: Envelope[AuthConfig], _caller: Caller
) -> Response:
    """Replace the realm's JWT public key."""
    platform = request.app.state.platform
    await platform.registry.update_realm(realm, jwt_public_key_pem=body.data.jwt_public_key_pem)
    await announce(platform.producer, platform.topics.registry, "realm", realm)
    return Response(status_code=204)
