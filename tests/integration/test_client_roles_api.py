"""Roles on clients over real HTTP, on SQLite and PostgreSQL: actions, members, and their pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from pipeline.registry import Accounts
from pipeline.registry.tables import client_role_actions, client_role_members, client_roles
from tests.integration import test_clients_api as base
from tests.integration.test_clients_api import CLIENTS, Api

api = base.api  # the app on SQLite and PostgreSQL, with the realm acme


async def _client_with_users(api: Api, *usernames: str) -> str:
    accounts = Accounts(api.registry)
    for username in usernames:
        await accounts.create_user(username, "long enough", "developer")
    client: dict[str, Any] = await api.create()
    return f"{CLIENTS}/{client['id']}/roles"


async def test_the_documented_role_is_created_found_by_id_or_name_renamed_and_deleted(api: Api) -> None:
    roles = await _client_with_users(api)

    created = await api.http.post(roles, json={"name": "publisher", "actions": ["publish"], "members": []})
    role = created.json()
    by_name = await api.http.get(f"{roles}/publisher")
    renamed = await api.http.put(f"{roles}/{role['id']}", json={"name": "writer"})
    await api.http.post(roles, json={"role_name": "reader", "optional_actions": ["read"]})
    clash = await api.http.put(f"{roles}/writer", json={"name": "reader"})
    page = (await api.http.get(roles, params={"limit": 1})).json()
    deleted = await api.http.delete(f"{roles}/writer")

    assert created.status_code == 201
    assert (role["name"], role["entity_id"], role["updated_at"]) == ("publisher", roles.split("/")[3], None)
    assert by_name.json() == role
    assert renamed.json()["name"] == "writer" and renamed.json()["updated_at"] is not None
    assert clash.status_code == 409 and clash.json()["message"] == "entity already exists"
    assert (page["total"], page["limit"], [r["name"] for r in page["roles"]]) == (2, 1, ["reader"])
    assert deleted.status_code == 204
    assert (await api.http.get(f"{roles}/{role['id']}")).status_code == 404


async def test_a_role_name_is_unique_on_its_client(api: Api) -> None:
    roles = await _client_with_users(api)
    await api.http.post(roles, json={"name": "ops"})
    other = await _client_with_users(api)

    again = await api.http.post(roles, json={"name": "ops"})
    elsewhere = await api.http.post(other, json={"name": "ops"})

    assert again.status_code == 409 and elsewhere.status_code == 201


async def test_actions_are_added_listed_and_deleted(api: Api) -> None:
    roles = await _client_with_users(api)
    await api.http.post(roles, json={"name": "ops", "actions": ["read"]})
    actions = f"{roles}/ops/actions"

    added = await api.http.post(actions, json={"actions": ["update", "read", "update"]})
    listed = (await api.http.get(actions)).json()
    unknown = await api.http.post(actions, json={"actions": ["fly"]})
    empty = await api.http.post(actions, json={"actions": []})
    removed = await api.http.post(f"{actions}/delete", json={"actions": ["read", "delete"]})
    after = (await api.http.get(actions)).json()
    cleared = await api.http.post(f"{actions}/delete-all")

    assert added.status_code == 200 and added.json() == {"actions": ["update", "read"]}
    assert listed == {"actions": ["read", "update"]}
    assert unknown.status_code == 422 and "'fly'" in unknown.json()["error"]
    assert empty.status_code == 422
    assert removed.status_code == 204 and after == {"actions": ["update"]}
    assert cleared.status_code == 204 and (await api.http.get(actions)).json() == {"actions": []}


async def test_members_are_users_added_paged_and_deleted(api: Api) -> None:
    roles = await _client_with_users(api, "ada", "bob", "cy")
    await api.http.post(roles, json={"name": "ops", "members": ["ada"]})
    members = f"{roles}/ops/members"

    added = await api.http.post(members, json={"members": ["cy", "bob"]})
    first = (await api.http.get(members, params={"limit": 2})).json()
    rest = (await api.http.get(members, params={"limit": 2, "offset": 2})).json()
    nobody = await api.http.post(members, json={"members": ["zed"]})
    removed = await api.http.post(f"{members}/delete", json={"members": ["bob"]})
    after = (await api.http.get(members)).json()["members"]
    cleared = await api.http.post(f"{members}/delete-all")

    assert added.json() == {"members": ["cy", "bob"]}
    assert (first["total"], first["members"], rest["members"]) == (3, ["ada", "bob"], ["cy"])
    assert nobody.status_code == 404 and "'zed'" in nobody.json()["error"]
    assert removed.status_code == 204 and after == ["ada", "cy"]
    assert cleared.status_code == 204 and (await api.http.get(members)).json()["total"] == 0


async def test_roles_go_with_their_client(api: Api) -> None:
    roles = await _client_with_users(api, "ada")
    await api.http.post(roles, json={"name": "ops", "actions": ["read"], "members": ["ada"]})

    await api.http.delete(roles.removesuffix("/roles"))

    async with api.registry.engine.connect() as conn:
        left = [
            (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in (client_roles, client_role_actions, client_role_members)
        ]
    assert left == [0, 0, 0]
    assert (await api.http.get(roles)).status_code == 404


async def test_available_actions_and_unknown_clients(api: Api) -> None:
    available = await api.http.get(f"{CLIENTS}/roles/available-actions")
    no_client = await api.http.post(f"{CLIENTS}/AAAAAAAAAAAAAAAAAAAAAA/roles", json={"name": "ops"})
    no_domain = await api.http.get("/nowhere/clients/roles/available-actions")

    assert "publish" in available.json()["available_actions"]
    assert no_client.status_code == 404 and "client AAAAAAAAAAAAAAAAAAAAAA" in no_client.json()["error"]
    assert no_domain.status_code == 404
