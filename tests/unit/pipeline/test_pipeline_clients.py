"""The Magistrala clients API's pure parts: client JSON, error JSON, role actions, permissions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline.api.clientroles import role_json
from pipeline.api.clients import client_json
from pipeline.api.errors import magistrala_body
from pipeline.permissions import Access, required
from pipeline.registry.clientroles import AVAILABLE_ACTIONS, RoleRecord, unknown_actions
from pipeline.registry.clients import ClientRecord

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in microseconds
CLIENT = ClientRecord(
    realm="acme",
    id="f0VMRgIBAQAAAAAAAAAAAA",
    name="boiler",
    identity="b1",
    tags=("hot",),
    metadata={"site": "north"},
    enabled=False,
    parent_group=None,
    created_at=T0,
    updated_at=T0 + 1_500_000,
)


def test_a_client_shows_its_secret_only_when_given_and_its_parent_only_when_set() -> None:
    shown = client_json(CLIENT)
    created = client_json(CLIENT, "s" * 16)
    parented = client_json(replace(CLIENT, parent_group="boilers"))

    assert shown == {
        "id": "f0VMRgIBAQAAAAAAAAAAAA",
        "name": "boiler",
        "tags": ["hot"],
        "domain_id": "acme",
        "credentials": {"identity": "b1"},
        "metadata": {"site": "north"},
        "status": "disabled",
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:01.500Z",
    }
    assert created["credentials"] == {"identity": "b1", "secret": "s" * 16}
    assert parented["parent_group_id"] == "boilers"


def test_a_role_names_its_client_as_entity() -> None:
    role = RoleRecord("r-1", "ops", CLIENT.id, None, T0, "ada", T0)

    assert role_json(role) == {
        "id": "r-1",
        "name": "ops",
        "entity_id": CLIENT.id,
        "created_by": "",
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_by": "ada",
        "updated_at": "2026-01-01T00:00:00.000Z",
    }


@pytest.mark.parametrize(
    ("status", "detail", "body"),
    [
        (404, "client x not found", {"error": "client x not found", "message": "entity not found"}),
        (409, "taken", {"error": "taken", "message": "entity already exists"}),
        (
            422,
            [{"loc": "body.name", "msg": "too long"}, {"loc": "body.status", "msg": "bad"}],
            {"error": "body.name: too long; body.status: bad", "message": "malformed entity specification"},
        ),
        (503, "down", {"error": "down", "message": "unexpected server-side error"}),
    ],
)
def test_errors_take_magistralas_shape(status: int, detail: object, body: dict[str, str]) -> None:
    assert magistrala_body(status, detail) == body


def test_the_seeds_publish_action_is_available_and_others_are_named() -> None:
    assert "publish" in AVAILABLE_ACTIONS
    assert unknown_actions(["read", "fly", "publish", "swim"]) == ["fly", "swim"]


@pytest.mark.parametrize(
    ("method", "path", "access"),
    [
        ("GET", "/{domain_id}/clients", Access.VIEWER),
        ("PATCH", "/{domain_id}/clients/{client_id}/tags", Access.EDITOR),
        ("POST", "/{domain_id}/clients/{client_id}/disable", Access.EDITOR),
        ("GET", "/{domain_id}/clients/roles/available-actions", Access.VIEWER),
        ("GET", "/{domain_id}/clients/{client_id}/roles", Access.ADMIN),
        ("POST", "/{domain_id}/clients/{client_id}/roles/{role_id}/members/delete-all", Access.ADMIN),
    ],
)
def test_client_routes_need_their_access(method: str, path: str, access: Access) -> None:
    assert required(method, path) is access
