"""Roles on clients (``/{domain_id}/clients/{client_id}/roles``), as Magistrala's role manager serves them.

A role is named by its id or its name in paths. Its members are Headwater usernames and its
actions come from ``/{domain_id}/clients/roles/available-actions``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints

from pipeline.api.auth import Caller
from pipeline.api.clients import Limit, Offset
from pipeline.registry.clientroles import AVAILABLE_ACTIONS, ClientRoles, RoleRecord
from pipeline.registry.clients import Clients
from pipeline.store.readings import iso_time

router = APIRouter(tags=["clients"])

RoleName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Action = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Member = Annotated[str, StringConstraints(min_length=1, max_length=64)]
_ROLE = "/{client_id}/roles/{role_id}"


class RoleCreate(BaseModel):
    """A new role; Magistrala's own field names (``role_name``, ``optional_*``) are understood too."""

    model_config = ConfigDict(extra="forbid")

    name: RoleName = Field(validation_alias=AliasChoices("name", "role_name"))
    actions: list[Action] | None = Field(None, validation_alias=AliasChoices("actions", "optional_actions"))
    members: list[Member] | None = Field(None, validation_alias=AliasChoices("members", "optional_members"))


class RoleRename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RoleName


class RoleActions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actions: list[Action] = Field(min_length=1)


class RoleMembers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    members: list[Member] = Field(min_length=1)


def role_json(role: RoleRecord) -> dict[str, Any]:
    """A role in Magistrala's JSON (``entity_id`` is the client's id)."""
    return {
        "id": role.id,
        "name": role.name,
        "entity_id": role.client_id,
        "created_by": role.created_by or "",
        "created_at": iso_time(role.created_at),
        "updated_by": role.updated_by or "",
        "updated_at": iso_time(role.updated_at) if role.updated_at is not None else None,
    }


def _roles(request: Request) -> ClientRoles:
    return ClientRoles(request.app.state.platform.registry)


@router.get("/roles/available-actions")
async def available_actions(request: Request, domain_id: str, _caller: Caller) -> dict[str, Any]:
    """The actions a client role may grant."""
    await Clients(request.app.state.platform.registry).domain(domain_id)
    return {"available_actions": list(AVAILABLE_ACTIONS)}


@router.post("/{client_id}/roles", status_code=201)
async def create_role(
    request: Request, domain_id: str, client_id: str, body: RoleCreate, caller: Caller
) -> dict[str, Any]:
    """Create a role on a client, with its first actions and members."""
    role = await _roles(request).create(
        domain_id,
        client_id,
        body.name,
        actions=body.actions or [],
        members=body.members or [],
        by=caller.username,
    )
    return role_json(role)


@router.get("/{client_id}/roles")
async def list_roles(
    request: Request, domain_id: str, client_id: str, _caller: Caller, limit: Limit = 10, offset: Offset = 0
) -> dict[str, Any]:
    """A page of the client's roles, by name."""
    total, page = await _roles(request).page(domain_id, client_id, offset=offset, limit=limit)
    return {"total": total, "offset": offset, "limit": limit, "roles": [role_json(role) for role in page]}


@router.get(_ROLE)
async def get_role(
    request: Request, domain_id: str, client_id: str, role_id: str, _caller: Caller
) -> dict[str, Any]:
    return role_json(await _roles(request).get(domain_id, client_id, role_id))


@router.put(_ROLE)
async def update_role(
    request: Request, domain_id: str, client_id: str, role_id: str, body: RoleRename, caller: Caller
) -> dict[str, Any]:
    """Rename a role."""
    role = await _roles(request).rename(domain_id, client_id, role_id, body.name, by=caller.username)
    return role_json(role)


@router.delete(_ROLE, status_code=204)
async def delete_role(
    request: Request, domain_id: str, client_id: str, role_id: str, _caller: Caller
) -> Response:
    await _roles(request).delete(domain_id, client_id, role_id)
    return Response(status_code=204)


@router.post(_ROLE + "/actions")
async def add_role_actions(
    request: Request, domain_id: str, client_id: str, role_id: str, body: RoleActions, _caller: Caller
) -> dict[str, Any]:
    """Grant actions (those the role has already are kept); answers with the actions given."""
    await _roles(request).add_actions(domain_id, client_id, role_id, body.actions)
    return {"actions": list(dict.fromkeys(body.actions))}


@router.get(_ROLE + "/actions")
async def list_role_actions(
    request: Request, domain_id: str, client_id: str, role_id: str, _caller: Caller
) -> dict[str, Any]:
    return {"actions": await _roles(request).actions(domain_id, client_id, role_id)}


@router.post(_ROLE + "/actions/delete", status_code=204)
async def delete_role_actions(
    request: Request, domain_id: str, client_id: str, role_id: str, body: RoleActions, _caller: Caller
) -> Response:
    await _roles(request).remove_actions(domain_id, client_id, role_id, body.actions)
    return Response(status_code=204)


@router.post(_ROLE + "/actions/delete-all", status_code=204)
async def delete_all_role_actions(
    request: Request, domain_id: str, client_id: str, role_id: str, _caller: Caller
) -> Response:
    await _roles(request).remove_actions(domain_id, client_id, role_id)
    return Response(status_code=204)


@router.post(_ROLE + "/members")
async def add_role_members(
    request: Request, domain_id: str, client_id: str, role_id: str, body: RoleMembers, _caller: Caller
) -> dict[str, Any]:
    """Add users to a role (404 for a username nobody has); answers with the members given."""
    await _roles(request).add_members(domain_id, client_id, role_id, body.members)
    return {"members": list(dict.fromkeys(body.members))}


@router.get(_ROLE + "/members")
async def list_role_members(
    request: Request,
    domain_id: str,
    client_id: str,
    role_id: str,
    _caller: Caller,
    limit: Limit = 10,
    offset: Offset = 0,
) -> dict[str, Any]:
    """A page of the role's members, by username."""
    total, page = await _roles(request).members(domain_id, client_id, role_id, offset=offset, limit=limit)
    return {"total": total, "offset": offset, "limit": limit, "members": page}


@router.post(_ROLE + "/members/delete", status_code=204)
async def delete_role_members(
    request: Request, domain_id: str, client_id: str, role_id: str, body: RoleMembers, _caller: Caller
) -> Response:
    await _roles(request).remove_members(domain_id, client_id, role_id, body.members)
    return Response(status_code=204)


@router.post(_ROLE + "/members/delete-all", status_code=204)
async def delete_all_role_members(
    request: Request, domain_id: str, client_id: str, role_id: str, _caller: Caller
) -> Response:
    await _roles(request).remove_members(domain_id, client_id, role_id)
    return Response(status_code=204)
