"""The device event log with faust on Tansu and chDB: every event stored once, replays change nothing."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from pipeline import kafka
from pipeline.settings import KafkaSettings, WorkerSettings
from pipeline.store.clickhouse import ClickHouseStore
from pipeline.store.events import device_event_log, event_columns
from pipeline.store.readings import Window
from schemas.records import device_events
from tests.helpers import eventually, random_device_id
from topologies.app import create_app
from topologies.event_log import DeviceEventLog

# Recent enough for the day-long lifetime the worker gives events here.
T0 = (time.time_ns() // 1000 // 1_000_000 - 3600) * 1_000_000
KINDS = (
    "device_registered",
    "device_connected",
    "incoming_introspection",
    "device_error",
    "device_disconnected",
)


def event(device: str, index: int, kind: str | None = None) -> dict[str, Any]:
    """The ``index``-th event of a device, a second after the previous one."""
    kind = kind or KINDS[index % len(KINDS)]
    return {
        "timestamp": T0 + index * 1_000_000,
        "realm": "acme",
        "device_id": device,
        "type": kind,
        "ip_address": "127.0.0.1" if kind == "device_connected" else None,
        "error_name": "invalid_introspection" if kind == "device_error" else None,
        "metadata": {"introspection": "org.acme.Temperature:0:1"} if kind.startswith("incoming") else {},
    }


@asynccontextmanager
async def event_log(settings: KafkaSettings, store: ClickHouseStore, topic: str) -> AsyncIterator[None]:
    """A worker running the event log in a consumer group of its own: it reads the topic from the start."""
    app = create_app(settings, WorkerSettings(group_id=f"events-{uuid.uuid4().hex[:8]}"))
    DeviceEventLog(app, store, topic, ttl_seconds=86_400, flush_rows=50, flush_interval=0.05)
    await app.start()
    try:
        yield
    finally:
        await app.stop()


async def _produce(settings: KafkaSettings, topic: str, device: str, records: list[bytes]) -> None:
    producer = kafka.producer(settings)
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(topic, record, key=f"acme/{device}".encode())
    finally:
        await producer.stop()


def _stored(store: ClickHouseStore, device: str, last: int) -> Callable[[], Any]:
    """A check that holds the device's events once the one at ``last`` is among them."""

    async def check() -> list[Any] | None:
        events = await device_event_log(store, realm="acme", device_id=device, window=Window())
        return events if events and events[-1].timestamp == T0 + last * 1_000_000 else None

    return check


async def test_every_event_is_stored_once_even_when_the_topic_is_replayed(
    kafka_settings: KafkaSettings, store: ClickHouseStore
) -> None:
    topics = await kafka.ensure_topics(kafka_settings)
    device = random_device_id()
    codec = device_events()
    records = [codec.encode(event(device, i)) for i in range(120)]
    await _produce(kafka_settings, topics.device_events, device, [b"not avro", *records])

    async with event_log(kafka_settings, store, topics.device_events):
        first = await eventually(_stored(store, device, 119), within=30)
        await _produce(kafka_settings, topics.device_events, device, records[:40])  # a redelivery
    # A new group reads the whole topic again, as a worker restarted without its offsets would.
    await _produce(kafka_settings, topics.device_events, device, [codec.encode(event(device, 120))])
    async with event_log(kafka_settings, store, topics.device_events):
        again = await eventually(_stored(store, device, 120), within=30)
    rows = await store.query(
        "SELECT count(), uniqExact(event_id), min(ttl_seconds) FROM {db}.device_events FINAL "
        "WHERE device_id = {d:String}",
        {"d": device},
    )

    assert [e.type for e in first] == [KINDS[i % len(KINDS)] for i in range(120)]
    assert [e.to_json() for e in again[:-1]] == [e.to_json() for e in first]
    assert len(again) == 121 and again[-1].timestamp == T0 + 120_000_000
    assert rows == [(121, 121, 86_400)]
    assert first[1].ip_address == "127.0.0.1" and first[3].error_name == "invalid_introspection"
    assert first[2].metadata == {"introspection": "org.acme.Temperature:0:1"}


async def test_windows_and_limits_read_like_datastreams(store: ClickHouseStore) -> None:
    device = random_device_id()
    await store.insert_device_events(event_columns([event(device, i) for i in range(10)]))

    def read(**window: int) -> Any:
        return device_event_log(store, realm="acme", device_id=device, window=Window(**window))

    latest = await read(limit=3)
    since = await read(since=T0 + 7_000_000)
    window = await read(since=T0 + 2_000_000, to=T0 + 4_000_000)
    first_two = await read(since=T0, limit=2)

    assert [e.timestamp for e in latest] == [T0 + i * 1_000_000 for i in (7, 8, 9)]
    assert [e.timestamp for e in since] == [T0 + i * 1_000_000 for i in (7, 8, 9)]
    assert [e.timestamp for e in window] == [T0 + i * 1_000_000 for i in (2, 3)]
    assert [e.timestamp for e in first_two] == [T0, T0 + 1_000_000]


async def test_events_older_than_their_lifetime_are_dropped(store: ClickHouseStore) -> None:
    device = random_device_id()
    old, recent = event(device, -36_000), event(device, 0)
    await store.insert_device_events(event_columns([old, recent], ttl_seconds=4 * 3600))
    await store.query("OPTIMIZE TABLE {db}.device_events FINAL", {})

    kept = await device_event_log(store, realm="acme", device_id=device, window=Window())

    assert [e.timestamp for e in kept] == [recent["timestamp"]]
