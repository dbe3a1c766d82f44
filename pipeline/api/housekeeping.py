"""Housekeeping: realms (``/housekeeping/v1``).

Global admins create and delete realms; a realm's owner changes its settings;
other callers see the realms they belong to.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from pipeline.api.auth import Caller
from pipeline.api.models import Envelope
from pipeline.changes import announce
from pipeline.errors import ValidationError
from pipeline.registry import RealmRecord
from pipeline.store.erasure import erase
from schemas.names import realm_name_error

router = APIRouter(tags=["housekeeping"])


class RealmSettings(BaseModel):
    """The fields of a realm that can change."""

    model_config = ConfigDict(extra="ignore")

    jwt_public_key_pem: str | None = None
    device_registration_limit: int | None = Field(None, ge=0)
    datastream_maximum_storage_retention: int | None = Field(None, ge=1)


class RealmCreate(RealmSettings):
    realm_name: str


def realm_json(realm: RealmRecord) -> dict[str, Any]:
    """A realm as housekeeping shows it (fields that are not set are left out)."""
    data: dict[str, Any] = {
        "realm_name": realm.name,
        "jwt_public_key_pem": realm.jwt_public_key_pem,
        "device_registration_limit": realm.device_registration_limit,
        "datastream_maximum_storage_retention": realm.datastream_maximum_storage_retention,
    }
    return {key: value for key, value in data.items() if value is not None}


@router.get("/realms")
async def list_realms(request: Request, who: Caller) -> dict[str, Any]:
    """Realm names: all for global admins, else the caller's own."""
    names: list[str] = await request.app.state.platform.registry.list_realms()
    return {"data": [name for name in names if who.role_in(name) is not None]}


@router.post("/realms", status_code=201)
async def create_realm(request: Request, body: Envelope[RealmCreate], _caller: Caller) -> dict[str, Any]:
    """Create a realm: name ``^[a-z][a-z0-9]{0,47}$``, not ``astarte``, ``system`` nor ``system_*``."""
    platform = request.app.state.platform
    wanted = body.data
    problem = realm_name_error(wanted.realm_name)
    if problem:
        raise ValidationError(problem)
    await platform.registry.create_realm(wanted.realm_name, wanted.jwt_public_key_pem)
    extra = wanted.model_dump(exclude_none=True, exclude={"realm_name", "jwt_public_key_pem"})
    realm = await platform.registry.update_realm(wanted.realm_name, **extra)
    await announce(platform.producer, platform.topics.registry, "realm", wanted.realm_name)
    return {"data": realm_json(realm)}


@router.get("/realms/{name}")
async def get_realm(request: Request, name: str, _caller: Caller) -> dict[str, Any]:
    return {"data": realm_json(await request.app.state.platform.registry.get_realm(name))}


@router.patch("/realms/{name}")
async def update_realm(
    request: Request, name: str, body: Envelope[RealmSettings], _caller: Caller
) -> dict[str, Any]:
    """Change the fields given; ``null`` clears one."""
    platform = request.app.state.platform
    realm = await platform.registry.update_realm(name, **body.data.model_dump(exclude_unset=True))
    await announce(platform.producer, platform.topics.registry, "realm", name)
    return {"data": realm_json(realm)}


@router.delete("/realms/{name}", status_code=204)
async def delete_realm(request: Request, name: str, _caller: Caller) -> Response:
    """Delete a realm with its interfaces, devices, members and every row stored for it."""
    platform = request.app.state.platform
    await platform.registry.delete_realm(name)
    await announce(platform.producer, platform.topics.registry, "realm", name)
    await erase(platform.store, name)
    return Response(status_code=204)
