"""The persist topology with the registry's interfaces: properties to their table, typed object members."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pipeline import kafka
from pipeline.registry import Registry
from pipeline.settings import KafkaSettings, WorkerSettings
from pipeline.store.clickhouse import ClickHouseStore
from pipeline.store.objects import path_objects
from pipeline.store.properties import property_values
from pipeline.store.readings import Window, path_samples
from pipeline.store.shapes import InterfaceShapes
from schemas.interface import parse_interface
from schemas.records import ingest_batches
from tests.helpers import eventually, random_device_id, reading
from topologies.app import create_app
from topologies.persist import PersistTopology

T0 = 1_700_000_000_000_000
PROPS = {
    "interface_name": "org.acme.Settings",
    "version_major": 0,
    "version_minor": 1,
    "type": "properties",
    "ownership": "device",
    "mappings": [{"endpoint": "/%{room}/target", "type": "double", "allow_unset": True}],
}
OBJECT = {
    "interface_name": "org.acme.Event",
    "version_major": 0,
    "version_minor": 1,
    "type": "datastream",
    "ownership": "device",
    "aggregation": "object",
    "mappings": [
        {"endpoint": "/e/at", "type": "datetime"},
        {"endpoint": "/e/count", "type": "integer"},
        {"endpoint": "/e/raw", "type": "binaryblob"},
    ],
}


@pytest.fixture
async def shapes(tmp_path: Path) -> AsyncIterator[InterfaceShapes]:
    async with Registry(f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}") as registry:
        await registry.create_realm("acme")
        for interface in (PROPS, OBJECT):
            await registry.install_interface("acme", parse_interface(interface))
        yield InterfaceShapes(registry)


async def test_properties_and_objects_are_stored_by_their_interface(
    kafka_settings: KafkaSettings, store: ClickHouseStore, shapes: InterfaceShapes
) -> None:
    topics = await kafka.ensure_topics(kafka_settings)
    app = create_app(kafka_settings, WorkerSettings(group_id=f"persist-{uuid.uuid4().hex[:8]}"))
    PersistTopology(app, store, topics.ingest, flush_rows=1000, flush_interval=0.05, shapes=shapes)
    device = random_device_id()
    props = [
        reading(device, "/kitchen/target", 20.5, T0, interface="org.acme.Settings"),
        reading(device, "/hall/target", 18.0, T0, interface="org.acme.Settings"),
        reading(device, "/hall/target", None, T0 + 10, interface="org.acme.Settings"),
    ]
    event = {"at": T0 + 5000, "count": 3, "raw": b"\x00\xff"}
    objects = [reading(device, "/e", event, T0, value_type="object", interface="org.acme.Event")]
    record = ingest_batches().encode(
        {"batch_id": "b", "id_base": 77, "broker_id": "t", "produced_at": T0, "readings": props + objects}
    )
    await app.start()
    try:
        producer = kafka.producer(kafka_settings)
        await producer.start()
        await producer.send_and_wait(topics.ingest, record, partition=0)
        await producer.stop()
        key = {"realm": "acme", "device_id": device}
        stored = await eventually(
            lambda: path_objects(store, **key, interface="org.acme.Event", prefix="/e", window=Window()),
            within=30,
        )
        found = await property_values(store, **key, interface="org.acme.Settings")
        as_datastream = await path_samples(
            store, **key, interface="org.acme.Settings", path="/kitchen/target"
        )
    finally:
        await app.stop()

    assert {p.path: p.value for p in found} == {"/kitchen/target": 20.5}
    assert as_datastream == []
    assert stored[0].values == {"at": "2023-11-14T22:13:20.005Z", "count": 3, "raw": "AP8="}
    assert stored[0].types == {"at": "datetime", "count": "integer", "raw": "binaryblob"}


async def test_shapes_follow_registry_changes(shapes: InterfaceShapes) -> None:
    await shapes.load([("acme", "org.acme.Settings", 0), ("acme", "org.acme.Nothing", 0)])
    loaded = shapes.get("acme", "org.acme.Settings", 0)
    await shapes.on_change("interface", "acme", "org.acme.Settings")

    assert loaded is not None and loaded.properties and not loaded.is_object
    assert shapes.get("acme", "org.acme.Nothing", 0) is None
    assert shapes.get("acme", "org.acme.Settings", 0) is None  # forgotten until the next load


async def test_the_realm_maximum_retention_reaches_new_rows_after_a_realm_change(
    shapes: InterfaceShapes,
) -> None:
    key = ("acme", "org.acme.Event", 0)
    await shapes.load([key])
    before = shapes.get(*key)
    await shapes._registry.update_realm("acme", datastream_maximum_storage_retention=3600)
    await shapes.on_change("realm", "acme", "acme")
    await shapes.load([key])
    after = shapes.get(*key)

    assert before is not None and before.retention is not None and after is not None
    assert before.retention.seconds("/e/count") == 0
    assert after.retention is not None and after.retention.seconds("/e/count") == 3600
