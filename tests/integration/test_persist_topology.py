"""The persistence topology with faust on Tansu and chDB: batches become rows, replays change nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from pipeline import kafka, metrics
from pipeline.settings import KafkaSettings, WorkerSettings
from pipeline.store.clickhouse import ClickHouseStore
from pipeline.store.readings import path_samples
from schemas.records import ingest_batches
from tests.helpers import eventually, random_device_id, reading
from topologies.app import create_app
from topologies.persist import PersistTopology

T0 = 1_700_000_000_000_000


@pytest.fixture
async def running(kafka_settings: KafkaSettings, store: ClickHouseStore) -> AsyncIterator[kafka.Topics]:
    topics = await kafka.ensure_topics(kafka_settings)
    app = create_app(kafka_settings, WorkerSettings(group_id=f"persist-{uuid.uuid4().hex[:8]}"))
    PersistTopology(app, store, topics.ingest, flush_rows=1000, flush_interval=0.05)
    await app.start()
    yield topics
    await app.stop()


async def _produce(settings: KafkaSettings, topic: str, records: list[bytes]) -> None:
    producer = kafka.producer(settings)
    await producer.start()
    try:
        for index, record in enumerate(records):
            await producer.send_and_wait(topic, record, partition=index % settings.ingest_partitions)
    finally:
        await producer.stop()


async def test_batches_become_rows_and_replays_change_nothing(
    running: kafka.Topics, kafka_settings: KafkaSettings, store: ClickHouseStore
) -> None:
    device = random_device_id()
    records = [
        ingest_batches().encode(
            {
                "batch_id": f"b{b}",
                "id_base": 10_000 * (b + 1),
                "broker_id": "test",
                "produced_at": T0,
                "readings": [reading(device, f"/s{b}/value", float(i), T0 + i) for i in range(250)],
            }
        )
        for b in range(8)
    ]

    async def stored() -> list[int]:
        counts = []
        for b in range(8):
            samples = await path_samples(
                store, realm="acme", device_id=device, interface="org.acme.Temperature", path=f"/s{b}/value"
            )
            counts.append(len(samples))
        return counts

    await _produce(kafka_settings, running.ingest, records)
    await eventually(lambda: _all(stored(), 250), within=30)
    persisted = _rows_persisted()
    await _produce(kafka_settings, running.ingest, records)  # the same records again, as a replay would
    await eventually(lambda: _rows_persisted() >= persisted + 2000, within=30)

    assert await stored() == [250] * 8
    lags = await eventually(lambda: _lags() if _lags() and not any(_lags().values()) else None, within=10)
    assert set(lags) == {str(p) for p in range(kafka_settings.ingest_partitions)}


async def test_an_undecodable_record_is_skipped_not_fatal(
    running: kafka.Topics, kafka_settings: KafkaSettings, store: ClickHouseStore
) -> None:
    device = random_device_id()
    good = ingest_batches().encode(
        {
            "batch_id": "g",
            "id_base": 5,
            "broker_id": "t",
            "produced_at": T0,
            "readings": [reading(device, "/s/value", 1.5, T0)],
        }
    )

    await _produce(kafka_settings, running.ingest, [b"not avro at all", good])

    samples = await eventually(
        lambda: path_samples(
            store, realm="acme", device_id=device, interface="org.acme.Temperature", path="/s/value"
        ),
        within=30,
    )
    assert [s.value for s in samples] == [1.5]


async def _all(counts_coro: object, expected: int) -> bool:
    counts = await counts_coro  # type: ignore[misc]
    return all(count == expected for count in counts)


def _rows_persisted() -> float:
    return metrics.rows_persisted._value.get()  # type: ignore[attr-defined,no-any-return]


def _lags() -> dict[str, float]:
    """The consumer-lag gauge by partition, as /metrics would show it."""
    [family] = metrics.consumer_lag.collect()
    return {sample.labels["partition"]: sample.value for sample in family.samples}
