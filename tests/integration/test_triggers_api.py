"""Triggers and delivery policies through ``/realmmanagement/v1/{realm}``: validation, conflicts, notices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from pipeline.registry import Registry
from pipeline.settings import KafkaSettings
from pipeline.store.clickhouse import ClickHouseStore
from tests.integration.serving import serving

RM = "/realmmanagement/v1/acme"
IFACE = {
    "interface_name": "org.acme.Sensor",
    "version_major": 1,
    "version_minor": 0,
    "type": "datastream",
    "ownership": "device",
    "mappings": [{"endpoint": "/%{room}/temp", "type": "double"}],
}
POLICY = {
    "name": "patient",
    "error_handlers": [{"on": "any_error", "strategy": "retry"}],
    "maximum_capacity": 100,
    "retry_times": 3,
}


def hot(name: str = "hot", policy: str | None = None, known: object = 30.0) -> dict[str, Any]:
    trigger: dict[str, Any] = {
        "name": name,
        "action": {"http_url": "http://example.com/hook", "http_method": "post"},
        "simple_triggers": [
            {
                "type": "data_trigger",
                "on": "incoming_data",
                "interface_name": "org.acme.Sensor",
                "interface_major": 1,
                "match_path": "/%{room}/temp",
                "value_match_operator": ">",
                "known_value": known,
            }
        ],
    }
    if policy:
        trigger["policy"] = policy
    return trigger


@pytest.fixture
async def http(
    registry: Registry, store: ClickHouseStore, kafka_settings: KafkaSettings
) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(registry, store, kafka_settings, "acme") as (client, _):
        assert (await client.post(f"{RM}/interfaces", json={"data": IFACE})).status_code == 201
        yield client


async def test_policy_and_trigger_lifecycle(http: httpx.AsyncClient) -> None:
    created_policy = await http.post(f"{RM}/policies", json={"data": POLICY})
    duplicate_policy = await http.post(f"{RM}/policies", json={"data": POLICY})
    created = await http.post(f"{RM}/triggers", json={"data": hot(policy="patient")})
    duplicate = await http.post(f"{RM}/triggers", json={"data": hot(policy="patient")})
    listed = (await http.get(f"{RM}/triggers")).json()["data"]
    shown = (await http.get(f"{RM}/triggers/hot")).json()["data"]
    policy_in_use = await http.delete(f"{RM}/policies/patient")
    deleted = await http.delete(f"{RM}/triggers/hot")
    gone = await http.get(f"{RM}/triggers/hot")
    policy_deleted = await http.delete(f"{RM}/policies/patient")

    assert created_policy.status_code == 201 and created_policy.json()["data"]["retry_times"] == 3
    assert duplicate_policy.status_code == 409
    assert created.status_code == 201, created.text
    assert duplicate.status_code == 409
    assert listed == ["hot"]
    assert shown["policy"] == "patient" and shown["simple_triggers"][0]["known_value"] == 30.0
    assert policy_in_use.status_code == 409 and "hot" in policy_in_use.text
    assert deleted.status_code == 204 and gone.status_code == 404
    assert policy_deleted.status_code == 204
    assert (await http.get(f"{RM}/policies")).json()["data"] == []


async def test_invalid_definitions_are_422_with_the_reason(http: httpx.AsyncClient) -> None:
    missing_policy = await http.post(f"{RM}/triggers", json={"data": hot(policy="nope")})
    wrong_type = await http.post(f"{RM}/triggers", json={"data": hot(known="warm")})
    no_action = await http.post(f"{RM}/triggers", json={"data": {"name": "x", "simple_triggers": []}})
    bad_policy = await http.post(f"{RM}/policies", json={"data": {**POLICY, "retry_times": None}})

    assert missing_policy.status_code == 422 and "nope" in missing_policy.text
    assert wrong_type.status_code == 422 and "known_value" in wrong_type.text
    assert no_action.status_code == 422 and "action" in no_action.text
    assert bad_policy.status_code == 422 and "retry_times" in bad_policy.text
    assert (await http.get(f"{RM}/triggers")).json()["data"] == []


async def test_unknown_names_are_404(http: httpx.AsyncClient) -> None:
    assert (await http.get(f"{RM}/triggers/none")).status_code == 404
    assert (await http.delete(f"{RM}/triggers/none")).status_code == 404
    assert (await http.get(f"{RM}/policies/none")).status_code == 404
    assert (await http.get("/realmmanagement/v1/nowhere/triggers")).status_code == 404
    assert (await http.get(f"{RM}/triggers/dead-letters")).json()["data"] == []
