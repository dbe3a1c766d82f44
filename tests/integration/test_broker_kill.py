"""SIGKILL the broker mid-stream: every PUBLISH it acknowledged is in Kafka."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import bson
import paho.mqtt.client as mqtt
from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline import kafka, ports
from pipeline.registry import Registry
from pipeline.settings import KafkaSettings
from schemas.interface import parse_interface
from schemas.records import ingest_batches
from tests.helpers import eventually, random_device_id, temperature_interface
from tests.integration.processes import process_env, spawn

MESSAGES = 60_000


async def _stored_values(kafka_settings: KafkaSettings, topic: str, device: str) -> set[float]:
    """Every value of ``device`` in the ingest topic, read from the start to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_settings.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        codec, values = ingest_batches(), set()
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    batch = codec.decode(record.value)
                    values.update(r["value"] for r in batch["readings"] if r["device_id"] == device)
        return values
    finally:
        await consumer.stop()


async def test_a_sigkilled_broker_acknowledged_only_what_kafka_holds(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    device = random_device_id()
    async with Registry(f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}") as registry:
        await registry.create_realm("acme")
        await registry.install_interface("acme", parse_interface(temperature_interface()))
        secret = await registry.register_device("acme", device)
    topics = await kafka.ensure_topics(kafka_settings)
    port = ports.free_port()
    env = process_env(kafka_settings, tmp_path, mqtt__port=str(port), mqtt__tls_port=str(ports.free_port()))
    broker = spawn(env, tmp_path / "broker.log", "broker")
    acked_ids: set[int] = set()  # packet ids: fewer than 65,536 messages, so none is reused
    sent: dict[int, float] = {}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"acme/{device}")
    client.username_pw_set(f"acme/{device}", secret)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)

    def on_publish(_c: mqtt.Client, _u: object, mid: int, _rc: object, _p: object) -> None:
        acked_ids.add(mid)

    client.on_publish = on_publish
    try:
        await eventually(lambda: ports.accepts("127.0.0.1", port), within=60)
        client.connect("127.0.0.1", port)
        client.loop_start()
        client.publish(f"acme/{device}", b"org.acme.Temperature:0:1", qos=2)  # the introspection
        topic = f"acme/{device}/org.acme.Temperature/s1/value"
        for i in range(MESSAGES):
            value = float(i)
            sent[client.publish(topic, bson.encode({"v": value}), qos=1).mid] = value
            if i == MESSAGES // 6:
                await eventually(lambda: len(acked_ids) > 1000, within=30)
                broker.send_signal(signal.SIGKILL)
                broker.wait(10)
                break
            if i % 500 == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(0.5)  # PUBACKs already on the wire reach the client
        client.loop_stop()
        acked = {sent[mid] for mid in acked_ids if mid in sent}  # not the introspection's
        stored = await _stored_values(kafka_settings, topics.ingest, device)
    finally:
        if broker.poll() is None:
            broker.kill()
            broker.wait(10)

    assert len(acked) > 1000
    assert acked <= stored, f"{len(acked - stored)} acknowledged readings are not in Kafka"
