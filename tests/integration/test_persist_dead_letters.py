"""Unstorable readings on Tansu and chDB: dead-lettered with a reason, the partition moves on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from pipeline import kafka, metrics
from pipeline.errors import StoreError
from pipeline.registry import Registry
from pipeline.settings import KafkaSettings, WorkerSettings
from pipeline.store.clickhouse import ClickHouseStore
from pipeline.store.dead_letters import letter_columns, recent_letters
from pipeline.store.readings import path_samples
from pipeline.store.shapes import InterfaceShapes
from schemas.interface import parse_interface
from schemas.records import ingest_batches
from tests.helpers import eventually, random_device_id, reading, temperature_interface
from topologies.app import create_app
from topologies.dead_letters import DeadLetterLog
from topologies.persist import PersistTopology

T0 = 1_700_000_000_000_000
YEAR_2500_US = 16_725_225_600_000_000
OBJECT = {
    "interface_name": "org.acme.Pair",
    "version_major": 0,
    "version_minor": 1,
    "type": "datastream",
    "ownership": "device",
    "aggregation": "object",
    "mappings": [
        {"endpoint": "/%{sensor}/x", "type": "double"},
        {"endpoint": "/%{sensor}/y", "type": "double"},
    ],
}


class FlakyStore:
    """The test's store, whose first ``failures`` datastream inserts fail as an unreachable server does."""

    def __init__(self, store: ClickHouseStore, failures: int) -> None:
        self._store = store
        self.failures = failures

    async def insert_individual(self, columns: list[list[Any]]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("ClickHouse at test: connection refused")
        await self._store.insert_individual(columns)

    async def insert_properties(self, columns: list[list[Any]]) -> None:
        await self._store.insert_properties(columns)


@pytest.fixture
async def shapes(tmp_path: Path) -> AsyncIterator[InterfaceShapes]:
    async with Registry(f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}") as registry:
        await registry.create_realm("acme")
        for definition in (temperature_interface(), OBJECT):
            await registry.install_interface("acme", parse_interface(definition))
        yield InterfaceShapes(registry)


@asynccontextmanager
async def _persisting(
    kafka_settings: KafkaSettings, store: ClickHouseStore, shapes: InterfaceShapes, sink: Any
) -> AsyncIterator[Callable[[bytes], Awaitable[None]]]:
    """Persist and dead-letter agents on a faust app; yields a function producing to ingest partition 0."""
    topics = await kafka.ensure_topics(kafka_settings)
    app = create_app(kafka_settings, WorkerSettings(group_id=f"dlq-{uuid.uuid4().hex[:8]}"))
    producer = kafka.producer(kafka_settings)
    await producer.start()
    PersistTopology(
        app,
        sink,
        topics.ingest,
        flush_rows=1000,
        flush_interval=0.05,
        shapes=shapes,
        producer=producer,
        dead_letter_topic=topics.dlq,
    )
    DeadLetterLog(app, lambda letters: store.insert_dead_letters(letter_columns(letters)), topics.dlq)
    await app.start()

    async def produce(record: bytes) -> None:
        # One partition: what follows a bad reading waits on it unless the sink moves past it.
        await producer.send_and_wait(topics.ingest, record, partition=0)

    try:
        yield produce
    finally:
        await app.stop()
        await producer.stop()


def _batch(batch_id: str, id_base: int, readings: list[dict[str, Any]]) -> bytes:
    return ingest_batches().encode(
        {"batch_id": batch_id, "id_base": id_base, "broker_id": "t", "produced_at": T0, "readings": readings}
    )


async def _values(
    store: ClickHouseStore, device: str, path: str, interface: str = "org.acme.Temperature"
) -> list[Any]:
    samples = await path_samples(store, realm="acme", device_id=device, interface=interface, path=path)
    return [s.value for s in samples]


async def test_an_unstorable_reading_is_dead_lettered_and_the_partition_moves_on(
    kafka_settings: KafkaSettings, store: ClickHouseStore, shapes: InterfaceShapes
) -> None:
    device = random_device_id()
    refused = reading(device, "/p/value", 0.0, YEAR_2500_US)  # a time DateTime64 cannot hold
    mismatched = reading(  # the interface says double; ClickHouse's client refuses the string
        device, "/o", {"x": "oops", "y": 2.0}, T0 + 3, value_type="object", interface="org.acme.Pair"
    )
    first = [
        reading(device, "/a/value", 1.0, T0 + 1),
        mismatched,
        refused,
        reading(device, "/a/value", 2.0, T0 + 2),
    ]
    async with _persisting(kafka_settings, store, shapes, store) as produce:
        await produce(_batch("b1", 1000, first))
        await produce(_batch("b2", 2000, [reading(device, "/b/value", 3.0, T0 + 4)]))

        assert await eventually(lambda: _values(store, device, "/b/value"), within=30) == [3.0]
        assert await _values(store, device, "/a/value") == [1.0, 2.0]
        letters = await eventually(
            lambda: _if_len(recent_letters(store, realm="acme", device_id=device), 2), within=30
        )

    by_reason = {letter.reason: letter for letter in letters}
    assert set(by_reason) == {"store_refused", "unstorable_value"}
    bad = by_reason["store_refused"]
    assert (bad.interface, bad.path, bad.topic) == ("org.acme.Pair", "/o", f"acme/{device}/org.acme.Pair/o")
    assert "could not convert string to float" in bad.detail
    late = by_reason["unstorable_value"]
    assert (late.interface, late.path) == ("org.acme.Temperature", "/p/value")
    assert "timestamp" in late.detail
    assert await _values(store, device, "/p/value") == []  # nothing stored that reads would choke on
    assert await _values(store, device, "/o/y", interface="org.acme.Pair") == []


async def test_a_retriable_failure_is_retried_until_stored(
    kafka_settings: KafkaSettings, store: ClickHouseStore, shapes: InterfaceShapes
) -> None:
    device = random_device_id()
    flaky = FlakyStore(store, failures=3)
    retried = metrics.store_failures._value.get()  # type: ignore[attr-defined]
    async with _persisting(kafka_settings, store, shapes, flaky) as produce:
        await produce(_batch("b1", 1000, [reading(device, "/a/value", 1.0, T0)]))
        assert await eventually(lambda: _values(store, device, "/a/value"), within=30) == [1.0]

    assert flaky.failures == 0
    assert metrics.store_failures._value.get() >= retried + 3  # type: ignore[attr-defined]
    assert await recent_letters(store, realm="acme", device_id=device) == []


async def _if_len(letters: Awaitable[list[Any]], count: int) -> list[Any] | None:
    found = await letters
    return found if len(found) >= count else None
