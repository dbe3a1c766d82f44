"""A realm's default delivery policy: set through the API, used for triggers that name none."""

from __future__ import annotations

from typing import Any

from pipeline.registry import Registry
from pipeline.registry.triggers import TriggerBook
from pipeline.settings import KafkaSettings
from pipeline.store.clickhouse import ClickHouseStore
from schemas.policies import DEFAULT_POLICY
from tests.integration.serving import serving
from topologies.catalog import TriggerCatalog

RM = "/realmmanagement/v1/acme"
RETRYING: dict[str, Any] = {
    "name": "retrying",
    "error_handlers": [{"on": "any_error", "strategy": "retry"}],
    "maximum_capacity": 100,
    "retry_times": 5,
}


async def test_the_realm_default_policy_is_set_used_guarded_and_cleared(
    registry: Registry, store: ClickHouseStore, kafka_settings: KafkaSettings
) -> None:
    catalog = TriggerCatalog(registry, TriggerBook(registry))
    async with serving(registry, store, kafka_settings, "acme") as (http, _):
        before = await http.get(f"{RM}/config/default-policy")
        unknown = await http.put(f"{RM}/config/default-policy", json={"data": {"name": "retrying"}})
        assert (await http.post(f"{RM}/policies", json={"data": RETRYING})).status_code == 201
        assert (await catalog.policy("acme", None)) is DEFAULT_POLICY
        made = await http.put(f"{RM}/config/default-policy", json={"data": {"name": "retrying"}})
        await catalog.on_change("policy", "acme", "retrying")  # the notice the worker receives
        used = await catalog.policy("acme", None)
        shown = await http.get(f"{RM}/config/default-policy")
        in_use = await http.delete(f"{RM}/policies/retrying")
        cleared = await http.put(f"{RM}/config/default-policy", json={"data": {"name": None}})
        await catalog.on_change("policy", "acme", "")
        after = await catalog.policy("acme", None)
        deleted = await http.delete(f"{RM}/policies/retrying")

    assert before.json() == {"data": {"name": None}}
    assert unknown.status_code == 404
    assert made.status_code == 200 and shown.json() == {"data": {"name": "retrying"}}
    assert used.name == "retrying" and used.retry_times == 5
    assert in_use.status_code == 409 and "default" in in_use.json()["errors"]["detail"]
    assert cleared.status_code == 200 and after is DEFAULT_POLICY
    assert deleted.status_code == 204
