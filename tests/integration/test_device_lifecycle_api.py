"""Unregistering and deleting devices, and deleting realms, with what is stored of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from pipeline.registry import Registry
from pipeline.settings import KafkaSettings
from pipeline.store.clickhouse import ClickHouseStore
from tests.helpers import random_device_id
from tests.integration.serving import serving


@dataclass
class Api:
    http: httpx.AsyncClient
    registry: Registry
    store: ClickHouseStore


@pytest.fixture
async def api(
    registry: Registry, store: ClickHouseStore, kafka_settings: KafkaSettings
) -> AsyncIterator[Api]:
    async with serving(registry, store, kafka_settings, "acme", "beta") as (http, _):
        yield Api(http, registry, store)


async def _register(api: Api, realm: str, device_id: str) -> httpx.Response:
    return await api.http.post(f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": device_id}})


async def _store_rows(api: Api, *rows: tuple[str, str]) -> None:
    for number, (realm, device_id) in enumerate(rows, 1):
        for table_rows in (
            "individual_datastreams (realm, device_id, interface, major, path, value_type, timestamp, "
            "reading_id, double_value) VALUES ({realm:String}, {device:String}, 'org.acme.T', 0, "
            "'/s/value', 'double', now64(), {n:UInt64}, 1.5)",
            "properties (realm, device_id, interface, major, path, value_type, unset, "
            "reception_timestamp, reading_id, double_value) VALUES ({realm:String}, {device:String}, "
            "'org.acme.P', 0, '/p', 'double', false, now64(), {n:UInt64}, 2.5)",
        ):
            await api.store.query(
                "INSERT INTO {db}." + table_rows, {"realm": realm, "device": device_id, "n": number}
            )


async def _stored(api: Api) -> set[tuple[str, str, str]]:
    rows = set()
    for table in ("individual_datastreams", "properties"):
        for realm, device_id in await api.store.query(f"SELECT realm, device_id FROM {{db}}.{table}", {}):
            rows.add((table, realm, device_id))
    return rows


async def test_an_unregistered_device_loses_its_secret_and_may_register_again(api: Api) -> None:
    device = random_device_id()
    first = (await _register(api, "acme", device)).json()["data"]["credentials_secret"]
    await api.registry.record_credentials_request("acme", device)
    refused = await _register(api, "acme", device)  # it asked for credentials: 422 in Astarte

    unregistered = await api.http.delete(f"/pairing/v1/acme/agent/devices/{device}")
    again = await _register(api, "acme", device)
    unknown = await api.http.delete(f"/pairing/v1/acme/agent/devices/{random_device_id()}")

    assert refused.status_code >= 400
    assert unregistered.status_code == 204
    assert not await api.registry.authenticate_device("acme", device, first)
    assert again.status_code == 201
    assert await api.registry.authenticate_device("acme", device, again.json()["data"]["credentials_secret"])
    assert unknown.status_code == 404


async def test_a_deleted_device_is_gone_with_its_stored_rows_and_others_stay(api: Api) -> None:
    gone, kept = random_device_id(), random_device_id()
    for device in (gone, kept):
        assert (await _register(api, "acme", device)).status_code == 201
    await _store_rows(api, ("acme", gone), ("acme", kept), ("beta", gone))

    deleted = await api.http.delete(f"/realmmanagement/v1/acme/devices/{gone}")
    status = await api.http.get(f"/appengine/v1/acme/devices/{gone}")
    twice = await api.http.delete(f"/realmmanagement/v1/acme/devices/{gone}")
    registered_again = await _register(api, "acme", gone)

    assert deleted.status_code == 204
    assert status.status_code == 404 and twice.status_code == 404
    assert registered_again.status_code == 201
    assert await _stored(api) == {
        (table, realm, device)
        for table in ("individual_datastreams", "properties")
        for realm, device in (("acme", kept), ("beta", gone))
    }


async def test_a_deleted_realm_leaves_no_stored_rows(api: Api) -> None:
    device = random_device_id()
    await _store_rows(api, ("acme", device), ("beta", device))

    deleted = await api.http.delete("/housekeeping/v1/realms/beta")

    assert deleted.status_code == 204
    assert {realm for _, realm, _ in await _stored(api)} == {"acme"}


async def test_an_initial_introspection_is_the_devices_until_it_sends_one(api: Api) -> None:
    device, bad = random_device_id(), random_device_id()
    registered = await api.http.post(
        "/pairing/v1/acme/agent/devices",
        json={"data": {"hw_id": device, "initial_introspection": {"org.acme.T": {"major": 1, "minor": 2}}}},
    )
    refused = await api.http.post(
        "/pairing/v1/acme/agent/devices",
        json={"data": {"hw_id": bad, "initial_introspection": {"org.acme.T": {"major": "one"}}}},
    )
    status = (await api.http.get(f"/appengine/v1/acme/devices/{device}")).json()["data"]

    assert registered.status_code == 201
    assert await api.registry.device_introspection("acme", device) == {"org.acme.T": (1, 2)}
    assert status["introspection"]["org.acme.T"]["major"] == 1
    assert refused.status_code == 422 and "initial_introspection" in refused.text
    assert await api.registry.device_introspection("acme", bad) == {}
