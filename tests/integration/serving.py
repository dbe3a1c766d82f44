"""The HTTP API served in-process over the test's registry, store and Tansu, with an admin key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from pipeline import kafka
from pipeline.api import Platform, create_app
from pipeline.registry import Registry
from pipeline.settings import KafkaSettings
from pipeline.store.clickhouse import ClickHouseStore


@asynccontextmanager
async def serving(
    registry: Registry,
    store: ClickHouseStore,
    kafka_settings: KafkaSettings,
    *realms: str,
    admin_headers: bool = True,
    **platform: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A client of the app (sending the admin key unless told not to), the admin headers; ``realms`` made."""
    topics = await kafka.ensure_topics(kafka_settings)
    producer = kafka.producer(kafka_settings)
    await producer.start()
    try:
        app = create_app(
            Platform(registry, store, producer, topics, "test", "mqtt://localhost:1883", **platform)
        )
        key, _ = await registry.create_api_key("boot", global_role="admin")
        admin = {"Authorization": f"Bearer {key}"}
        transport = httpx.ASGITransport(app=app)
        headers = admin if admin_headers else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://hw", headers=headers) as http:
            for realm in realms:
                made = await http.post(
                    "/housekeeping/v1/realms", json={"data": {"realm_name": realm}}, headers=admin
                )
                assert made.status_code == 201, made.text
            yield http, admin
    finally:
        await producer.stop()
