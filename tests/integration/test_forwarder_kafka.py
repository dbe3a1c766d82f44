"""Forwarding to Kafka (Tansu): readings travel in batches, in order per device, and resolve after the ack."""

from __future__ import annotations

import asyncio

from broker.forwarder import Forwarder
from pipeline import kafka
from pipeline.settings import KafkaSettings
from schemas.records import ingest_batches
from tests.helpers import random_device_id, reading

T0 = 1_700_000_000_000_000


async def test_readings_arrive_batched_and_in_order(kafka_settings: KafkaSettings) -> None:
    topics = await kafka.ensure_topics(kafka_settings)
    producer = kafka.producer(kafka_settings)
    await producer.start()
    forwarder = Forwarder(producer, topics.ingest, broker_id="test", flush_interval=0.005, max_batch=100)
    await forwarder.start()
    devices = [random_device_id() for _ in range(5)]
    try:
        sends = [
            forwarder.forward(
                reading(device, "/s/value", float(i), T0 + i), forwarder.partition_for("acme", device)
            )
            for i in range(200)
            for device in devices
        ]
        await asyncio.wait_for(asyncio.gather(*sends), 10)
    finally:
        await forwarder.stop()
        await producer.stop()

    consumer = kafka.consumer(kafka_settings, topics.ingest, group_id=None)
    await consumer.start()
    records = []
    try:
        while sum(len(r["readings"]) for r in records) < 1000:
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=500), 10)
            records += [ingest_batches().decode(m.value) for ms in batch.values() for m in ms]
    finally:
        await consumer.stop()

    per_device: dict[str, list[float]] = {}
    for record in records:
        for r in record["readings"]:
            per_device.setdefault(r["device_id"], []).append(r["value"])
    assert len(records) < 1000 / 10  # batched: far fewer records than readings
    assert all(len(record["readings"]) <= 100 for record in records)
    assert per_device == {device: [float(i) for i in range(200)] for device in devices}
    assert len({record["id_base"] for record in records}) == len(records)
