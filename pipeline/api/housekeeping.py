"""Housekeeping: realms (``/housekeeping/v1``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from pipeline.api.auth import Caller
from pipeline.api.models import Envelope, RealmCreate
from pipeline.changes import announce
from pipeline.errors import ValidationError
from schemas.names import realm_name_error

router = APIRouter(tags=["housekeeping"])


@router.get("/realms")
async def list_realms(request: Request, _caller: Caller) -> dict[str, Any]:
    return {"data": await request.app.state.platform.registry.list_realms()}


@router.post("/realms", status_code=201)
async def create_realm(request: Request, body: Envelope[RealmCreate], _caller: Caller) -> dict[str, Any]:
    platform = request.app.state.platform
    realm = body.data
    problem = realm_name_error(realm.realm_name)
    if problem:
        raise ValidationError(problem)
    await platform.registry.create_realm(realm.realm_name, realm.jwt_public_key_pem)
    await announce(platform.producer, platform.topics.registry, "realm", realm.realm_name)
    return {"data": realm.model_dump(exclude_none=True)}


@router.get("/realms/{name}")
async def get_realm(request: Request, name: str, _caller: Caller) -> dict[str, Any]:
    realm = await request.app.state.platform.registry.get_realm(name)
    data: dict[str, Any] = {"realm_name": realm.name}
    if realm.jwt_public_key_pem:
        data["jwt_public_key_pem"] = realm.jwt_public_key_pem
    return {"data": data}
