"""What ingest does with refused messages: small dead letters, a device_error event, nothing raised."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import bson

from broker.ingest import DEAD_LETTER_PAYLOAD_BYTES, Ingest
from broker.topics import DeviceIdentity
from pipeline.kafka import Topics
from schemas.records import dead_letters, device_events
from tests.unit.broker.test_broker_ingest import INTERFACES

DEVICE = "f0VMRgIBAQAAAAAAAAAAAA"
ME = DeviceIdentity("acme", DEVICE)
TOPICS = Topics(
    ingest="hw.ingest",
    dlq="hw.dlq",
    device_events="hw.device-events",
    registry="hw.registry",
    downlink="hw.downlink",
    trigger_events="hw.trigger-events",
)
KAFKA_RECORD_LIMIT = 1024 * 1024  # aiokafka's default max_request_size


class Producer:
    """Records what would go to Kafka, refusing records over the producer's size limit as aiokafka does."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        if len(value) > KAFKA_RECORD_LIMIT:
            raise ValueError(f"record of {len(value)} bytes exceeds the producer's limit")
        self.sent.append((topic, value))

    def on(self, topic: str) -> list[bytes]:
        return [value for name, value in self.sent if name == topic]


class Forwarder:
    """Takes readings into a list; each offer's future is already acknowledged."""

    def __init__(self) -> None:
        self.readings: list[dict[str, Any]] = []

    def offer(self, reading: dict[str, Any], partition: int) -> asyncio.Future[None]:
        self.readings.append(reading)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def partition_for(self, realm: str, device_id: str) -> int:
        return 0

    async def room(self) -> None:
        return None


def ingest(introspection: bytes = b"org.acme.Plain:2:1") -> tuple[Ingest, Producer, Forwarder]:
    producer, forwarder = Producer(), Forwarder()
    taken = Ingest(INTERFACES, forwarder, producer, TOPICS, broker_id="b1")  # type: ignore[arg-type]
    taken.introspections.declare(ME, introspection)
    return taken, producer, forwarder


PLAIN = f"{ME.base_topic}/org.acme.Plain/room1/value"
STAMPED = f"{ME.base_topic}/org.acme.Stamped/room1/value"


async def test_a_huge_refused_payload_leaves_a_small_dead_letter_with_size_and_digest() -> None:
    taken, producer, forwarder = ingest()
    payload = b"\x01" * (9 * 1024 * 1024)  # neither BSON nor JSON, and 9 MiB
    topic = f"{ME.base_topic}/org.acme.Plain/room1/value"

    await taken.publish(ME, topic, payload, 1)

    (letter,) = [dead_letters().decode(r) for r in producer.on(TOPICS.dlq)]
    assert len(producer.on(TOPICS.dlq)[0]) < 2 * DEAD_LETTER_PAYLOAD_BYTES
    assert letter["reason"] == "undecodable_bson_payload"
    assert letter["payload"] == payload[:DEAD_LETTER_PAYLOAD_BYTES]
    assert letter["payload_truncated"] is True
    assert letter["payload_size"] == len(payload)
    assert letter["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    (event,) = [device_events().decode(r) for r in producer.on(TOPICS.device_events)]
    assert event["type"] == "device_error" and event["error_name"] == "undecodable_bson_payload"
    assert forwarder.readings == []


async def test_a_small_refused_payload_is_kept_whole() -> None:
    taken, producer, _ = ingest()
    payload = bson.encode({"v": "hot"})

    await taken.publish(ME, f"{ME.base_topic}/org.acme.Plain/room1/value", payload, 1)

    (letter,) = [dead_letters().decode(r) for r in producer.on(TOPICS.dlq)]
    assert letter["payload"] == payload and letter["payload_truncated"] is False
    assert letter["payload_size"] == len(payload)


async def test_a_reading_before_any_introspection_is_refused_and_told() -> None:
    producer, forwarder = Producer(), Forwarder()
    taken = Ingest(INTERFACES, forwarder, producer, TOPICS, broker_id="b1")  # type: ignore[arg-type]

    await taken.publish(ME, PLAIN, bson.encode({"v": 1.0}), 1)

    (letter,) = [dead_letters().decode(r) for r in producer.on(TOPICS.dlq)]
    assert letter["reason"] == "interface_loading_failed" and "introspection" in letter["detail"]
    (event,) = [device_events().decode(r) for r in producer.on(TOPICS.device_events)]
    assert event["type"] == "device_error" and event["error_name"] == "interface_loading_failed"
    assert forwarder.readings == []


async def test_the_introspection_decides_which_interfaces_a_device_may_publish_on() -> None:
    taken, producer, forwarder = ingest(b"")

    await taken.publish(ME, ME.base_topic, b"org.acme.Plain:2:1", 2)
    await taken.publish(ME, PLAIN, bson.encode({"v": 1.0}), 1)
    await taken.publish(ME, STAMPED, bson.encode({"v": 2.0}), 1)

    assert [r["interface"] for r in forwarder.readings] == ["org.acme.Plain"]
    (letter,) = [dead_letters().decode(r) for r in producer.on(TOPICS.dlq)]
    assert letter["reason"] == "interface_loading_failed" and letter["topic"] == STAMPED


async def test_an_invalid_introspection_keeps_the_previous_one() -> None:
    taken, producer, forwarder = ingest(b"org.acme.Plain:2:1")

    await taken.publish(ME, ME.base_topic, b"not an introspection", 2)
    await taken.publish(ME, PLAIN, bson.encode({"v": 1.0}), 1)

    assert len(forwarder.readings) == 1
    assert [dead_letters().decode(r)["reason"] for r in producer.on(TOPICS.dlq)] == ["invalid_introspection"]


def test_the_registry_introspection_serves_until_the_device_sends_one() -> None:
    producer, forwarder = Producer(), Forwarder()
    taken = Ingest(INTERFACES, forwarder, producer, TOPICS, broker_id="b1")  # type: ignore[arg-type]
    book = taken.introspections

    book.recall(ME, ["org.acme.Plain"])  # at CONNECT, from the registry
    assert book.declared(ME) == {"org.acme.Plain"}
    book.recall(ME, ["org.acme.Stamped"])  # a later CONNECT: the registry knows better
    assert book.declared(ME) == {"org.acme.Stamped"}
    book.declare(ME, b"org.acme.Plain:2:1;org.acme.Other:1:0")
    book.recall(ME, [])  # the registry may lag behind what the device sent here
    assert book.declared(ME) == {"org.acme.Plain", "org.acme.Other"}
