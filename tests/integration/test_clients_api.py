"""The Magistrala clients API over real HTTP, on SQLite and PostgreSQL: a client is a realm's device."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from pipeline.registry import Accounts, Registry
from pipeline.registry.clients import Clients
from pipeline.settings import KafkaSettings
from pipeline.store.clickhouse import ClickHouseStore
from tests.helpers import random_device_id
from tests.integration.serving import serving

CLIENTS = "/acme/clients"
# The create body of Magistrala's clients documentation.
SEED = {
    "name": "clientName",
    "tags": ["tag1", "tag2"],
    "credentials": {"identity": "clientIDentity", "secret": "bb7edb32-2eac-4aad-aebe-ed96fe073879"},
    "metadata": {"model": "example"},
    "status": "enabled",
}


@dataclass
class Api:
    http: httpx.AsyncClient
    registry: Registry

    async def create(self, **body: Any) -> dict[str, Any]:
        answer = await self.http.post(CLIENTS, json=body)
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created


@pytest.fixture
async def api(
    registry: Registry, store: ClickHouseStore, kafka_settings: KafkaSettings
) -> AsyncIterator[Api]:
    async with serving(registry, store, kafka_settings, "acme") as (http, _):
        yield Api(http, registry)


async def test_the_documented_client_is_created_and_is_a_device(api: Api) -> None:
    answer = await api.http.post(CLIENTS, json=SEED)
    client = answer.json()

    shown = (await api.http.get(f"{CLIENTS}/{client['id']}")).json()
    device = (await api.http.get(f"/appengine/v1/acme/devices/{client['id']}")).json()["data"]

    assert answer.status_code == 201
    assert answer.headers["location"] == f"{CLIENTS}/{client['id']}"
    assert {key: client[key] for key in SEED} == SEED
    assert client["domain_id"] == "acme" and client["created_at"] == client["updated_at"]
    assert shown == client | {"credentials": {"identity": "clientIDentity"}}
    assert device["aliases"] == {"name": "clientName", "identity": "clientIDentity"}
    assert device["attributes"] == {"model": "example"}
    assert await api.registry.authenticate_device("acme", client["id"], SEED["credentials"]["secret"])


async def test_a_bare_client_gets_a_secret_and_pairing_devices_are_clients(api: Api) -> None:
    client = await api.create()
    paired = random_device_id()
    await api.http.post("/pairing/v1/acme/agent/devices", json={"data": {"hw_id": paired}})

    shown = await api.http.get(f"{CLIENTS}/{paired}")

    assert (client["name"], client["tags"], client["metadata"], client["status"]) == ("", [], {}, "enabled")
    assert await api.registry.authenticate_device("acme", client["id"], client["credentials"]["secret"])
    assert shown.status_code == 200 and shown.json()["credentials"] == {"identity": ""}


async def test_clients_are_listed_in_pages_with_the_total(api: Api) -> None:
    made = [(await api.create(name=f"c{n}"))["id"] for n in range(3)]

    first = (await api.http.get(CLIENTS, params={"limit": 2})).json()
    rest = (await api.http.get(CLIENTS, params={"limit": 2, "offset": 2})).json()
    default = (await api.http.get(CLIENTS)).json()
    too_many = await api.http.get(CLIENTS, params={"limit": 101})

    assert (first["total"], first["offset"], first["limit"]) == (3, 0, 2)
    assert [c["id"] for c in first["clients"] + rest["clients"]] == made
    assert (rest["offset"], len(rest["clients"]), default["limit"]) == (2, 1, 10)
    assert too_many.status_code == 422 and set(too_many.json()) == {"error", "message"}


async def test_update_replaces_name_and_metadata_and_tags_have_their_own_route(api: Api) -> None:
    client = await api.create(**SEED)
    url = f"{CLIENTS}/{client['id']}"

    renamed = await api.http.patch(url, json={"name": "boiler", "metadata": {"role": "general"}})
    kept = await api.http.patch(url, json={"metadata": {"role": "spare", "site": "north"}})
    tagged = await api.http.patch(f"{url}/tags", json={"tags": ["hot", "north"]})
    unnamed = await api.http.patch(url, json={"name": ""})

    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["metadata"]) == ("boiler", {"role": "general"})
    assert renamed.json()["updated_at"] >= client["updated_at"]
    assert (kept.json()["name"], kept.json()["metadata"]) == ("boiler", {"role": "spare", "site": "north"})
    assert tagged.json()["tags"] == ["hot", "north"] and tagged.json()["name"] == "boiler"
    assert unnamed.json()["name"] == "" and unnamed.json()["tags"] == ["hot", "north"]


async def test_names_and_identities_are_aliases_unique_in_the_domain(api: Api) -> None:
    first = await api.create(name="boiler", credentials={"identity": "b-1"})
    other = await api.create(name="pump")

    same_name = await api.http.post(CLIENTS, json={"name": "boiler"})
    same_identity = await api.http.post(CLIENTS, json={"credentials": {"identity": "b-1"}})
    name_is_identity = await api.http.post(CLIENTS, json={"name": "x", "credentials": {"identity": "x"}})
    renamed_onto = await api.http.patch(f"{CLIENTS}/{other['id']}", json={"name": "b-1"})
    own_name = await api.http.patch(f"{CLIENTS}/{first['id']}", json={"name": "boiler"})

    assert [a.status_code for a in (same_name, same_identity, name_is_identity, renamed_onto)] == [409] * 4
    assert same_name.json() == {
        "error": f"name 'boiler' is taken in domain 'acme': it is an alias of device {first['id']}",
        "message": "entity already exists",
    }
    assert own_name.status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "where"),
    [
        ({"colour": "red"}, 422, "colour"),
        ({"metadata": {"count": 3}}, 422, "metadata.count"),
        ({"status": "deleted"}, 422, "status"),
        ({"credentials": {"secret": "short"}}, 422, "credentials.secret"),
        ({"tags": [""]}, 422, "tags.0"),
        ({"name": "n" * 257}, 422, "name"),
    ],
)
async def test_bad_bodies_are_refused_with_the_field(
    api: Api, body: dict[str, Any], status: int, where: str
) -> None:
    answer = await api.http.post(CLIENTS, json=body)

    assert answer.status_code == status
    assert where in answer.json()["error"] and answer.json()["message"] == "malformed entity specification"


async def test_malformed_json_unknown_clients_and_domains(api: Api) -> None:
    malformed = await api.http.post(CLIENTS, content=b"{nope", headers={"Content-Type": "application/json"})
    unknown = await api.http.get(f"{CLIENTS}/{random_device_id()}")
    no_domain = await api.http.get("/nowhere/clients")
    anonymous = await api.http.get(CLIENTS, headers={"Authorization": ""})

    assert malformed.status_code == 400
    assert unknown.status_code == 404 and unknown.json()["message"] == "entity not found"
    assert no_domain.status_code == 404 and "domain 'nowhere'" in no_domain.json()["error"]
    assert anonymous.status_code == 401 and set(anonymous.json()) == {"error", "message"}


async def test_disable_inhibits_the_credentials_and_enable_restores_them(api: Api) -> None:
    client = await api.create(**SEED)
    url, secret = f"{CLIENTS}/{client['id']}", SEED["credentials"]["secret"]

    disabled = await api.http.post(f"{url}/disable")
    refused = await api.registry.authenticate_device("acme", client["id"], secret)
    twice = await api.http.post(f"{url}/disable")
    device = (await api.http.get(f"/appengine/v1/acme/devices/{client['id']}")).json()["data"]
    enabled = await api.http.post(f"{url}/enable")
    allowed = await api.registry.authenticate_device("acme", client["id"], secret)

    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
    assert not refused and device["credentials_inhibited"] is True
    assert twice.status_code == 409 and "already disabled" in twice.json()["error"]
    assert enabled.json()["status"] == "enabled" and allowed


async def test_a_rotated_secret_replaces_the_old_one(api: Api) -> None:
    client = await api.create(**SEED)
    url, old = f"{CLIENTS}/{client['id']}/secret", SEED["credentials"]["secret"]

    rotated = await api.http.patch(url, json={"secret": "the-next-secret-of-boiler-1"})
    short = await api.http.patch(url, json={"secret": "short"})
    unknown = await api.http.patch(f"{CLIENTS}/AAAAAAAAAAAAAAAAAAAAAA/secret", json={"secret": "x" * 20})

    assert (
        rotated.status_code == 200
        and rotated.json()["credentials"]["secret"] == "the-next-secret-of-boiler-1"
    )
    assert not await api.registry.authenticate_device("acme", client["id"], old)
    assert await api.registry.authenticate_device("acme", client["id"], "the-next-secret-of-boiler-1")
    assert short.status_code == 422 and short.json()["message"] == "malformed entity specification"
    assert unknown.status_code == 404


async def test_a_client_created_disabled_may_not_connect(api: Api) -> None:
    client = await api.create(status="disabled", credentials={"secret": "a-long-enough-secret"})

    assert client["status"] == "disabled"
    assert not await api.registry.device_may_connect("acme", client["id"])


async def test_the_parent_group_is_an_appengine_group(api: Api) -> None:
    client = await api.create()
    url = f"{CLIENTS}/{client['id']}/parent"

    made = await api.http.post(url, json={"parent_group_id": "boilers"})
    again = await api.http.post(url, json={"parent_group_id": "boilers"})
    other = await api.http.post(url, json={"parent_group_id": "pumps"})
    shown = (await api.http.get(f"{CLIENTS}/{client['id']}")).json()
    members = (await api.http.get("/appengine/v1/acme/groups/boilers/devices")).json()["data"]
    removed = await api.http.delete(url)
    after = (await api.http.get(f"{CLIENTS}/{client['id']}")).json()
    groups = (await api.http.get("/appengine/v1/acme/groups")).json()["data"]
    bad = await api.http.post(url, json={"parent_group_id": "~x"})

    assert (made.status_code, again.status_code, other.status_code) == (202, 202, 409)
    assert shown["parent_group_id"] == "boilers" and members == [client["id"]]
    assert removed.status_code == 204 and "parent_group_id" not in after and groups == []
    assert (await api.http.delete(url)).status_code == 204
    assert bad.status_code == 422 and "parent_group_id" in bad.json()["error"]


async def test_delete_removes_the_device(api: Api) -> None:
    client = await api.create(**SEED)
    await api.http.post(f"{CLIENTS}/{client['id']}/parent", json={"parent_group_id": "boilers"})

    deleted = await api.http.delete(f"{CLIENTS}/{client['id']}")

    assert deleted.status_code == 204
    assert (await api.http.get(f"{CLIENTS}/{client['id']}")).status_code == 404
    assert (await api.http.get(f"/appengine/v1/acme/devices/{client['id']}")).status_code == 404
    assert (await api.http.get("/appengine/v1/acme/groups")).json()["data"] == []
    assert (await api.http.delete(f"{CLIENTS}/{client['id']}")).status_code == 404
    assert (await api.http.post(CLIENTS, json={"name": SEED["name"]})).status_code == 201


async def test_the_realm_registration_limit_holds_for_clients(api: Api) -> None:
    await api.http.patch("/housekeeping/v1/realms/acme", json={"data": {"device_registration_limit": 1}})
    await api.create()

    refused = await api.http.post(CLIENTS, json={})

    assert refused.status_code == 422 and "device_registration_limit" in refused.json()["error"]


async def test_roles_need_a_realm_admin(api: Api) -> None:
    accounts = Accounts(api.registry)
    client = await api.create()
    keys = {}
    for role in ("editor", "admin"):
        await accounts.create_user(role, "long enough", "developer")
        await accounts.set_member("acme", role, role)
        key, _ = await accounts.create_api_key("t", username=role)
        keys[role] = {"Authorization": f"Bearer {key}"}
    roles = f"{CLIENTS}/{client['id']}/roles"

    as_editor = await api.http.post(roles, json={"name": "r"}, headers=keys["editor"])
    disabled = await api.http.post(f"{CLIENTS}/{client['id']}/disable", headers=keys["editor"])
    as_admin = await api.http.post(roles, json={"name": "r"}, headers=keys["admin"])

    assert as_editor.status_code == 403 and as_editor.json()["message"].startswith("failed to perform auth")
    assert disabled.status_code == 200
    assert as_admin.status_code == 201 and as_admin.json()["created_by"] == "admin"


async def test_a_registry_from_before_clients_gets_their_columns(registry: Registry) -> None:
    async with registry.engine.begin() as conn:
        for column in ("tags", "parent_group", "updated_at"):
            await conn.execute(text(f"ALTER TABLE devices DROP COLUMN {column}"))

    async with Registry(registry.url) as reopened:
        await reopened.create_realm("acme")
        device_id = random_device_id()
        await reopened.register_device("acme", device_id)
        tagged = await Clients(reopened).update("acme", device_id, tags=["old"])

    assert tagged.tags == ("old",) and tagged.updated_at >= tagged.created_at
