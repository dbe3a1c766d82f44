"""What happens to each device PUBLISH: validate, then forward to Kafka or dead-letter with a reason.

Malformed device data is data, not an exception: it goes to the dead-letter
topic with Astarte's device error name, a ``device_error`` event is emitted, a
metric counts it, and the device still gets its acknowledgement.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Container
from typing import TYPE_CHECKING, Any

from broker.introspections import Introspections
from broker.resends import reading_id
from broker.topics import DeviceIdentity, Route, TopicKind, route
from pipeline import metrics
from schemas.interface import Ownership
from schemas.payload import DeviceErrorName, Rejection
from schemas.purge import PRODUCER_PURGE, decode_purge_list
from schemas.records import dead_letters, device_events

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

    from broker.forwarder import Forwarder
    from broker.interfaces import InterfaceCache
    from pipeline.kafka import Topics

log = logging.getLogger(__name__)

UNAUTHORIZED_TOPIC = "unauthorized_topic"
# A dead letter keeps at most this much of a refused payload (with its size and SHA-256), so it
# stays far below Kafka's record limit whatever a device sends.
DEAD_LETTER_PAYLOAD_BYTES = 64 * 1024

# Bound once: looking a label up per message was a measurable share of the broker's CPU.
RECEIVED = {qos: metrics.messages_received.labels(str(qos)) for qos in (0, 1, 2)}

Counts = dict[str, list[int]]
"""Per interface name: ``[messages, bytes]`` accepted on one connection."""


def now_us() -> int:
    return time.time_ns() // 1000


def looks_like_bson(payload: bytes) -> bool:
    """Whether a payload is framed as a BSON document (its own length first, a zero byte last).

    Astarte devices send BSON; plain clients may send the documented JSON form
    (``{"v": ...}``), whose first four bytes can never spell its own length. An
    empty payload is an unset, decoded by the BSON path.
    """
    if not payload:
        return True
    return len(payload) >= 5 and int.from_bytes(payload[:4], "little") == len(payload) and payload[-1] == 0


def letter_payload(payload: bytes, limit: int = DEAD_LETTER_PAYLOAD_BYTES) -> dict[str, Any]:
    """The payload fields of a dead letter: the first ``limit`` bytes, the size and the SHA-256."""
    return {
        "payload": payload[:limit],
        "payload_truncated": len(payload) > limit,
        "payload_size": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }


def judge(
    interfaces: InterfaceCache,
    identity: DeviceIdentity,
    where: Route,
    payload: bytes,
    received_us: int,
    *,
    declared: Container[str],
    packet_id: int | None = None,
) -> dict[str, Any] | Rejection:
    """The ingest reading for a data PUBLISH, or why it is refused (pure but for the cache lookup).

    ``declared`` holds the interfaces of the device's introspection; a reading on any other is
    refused as Astarte refuses it (interface_loading_failed). A PUBLISH with a packet id (QoS 1 or 2)
    gets a reading id that its resends share.
    """
    if where.interface not in declared:
        return Rejection(
            DeviceErrorName.INTERFACE_LOADING_FAILED,
            f"interface {where.interface!r} is not in the introspection of {identity.base_topic}",
        )
    compiled = interfaces.get(identity.realm, where.interface)
    if compiled is None:
        return Rejection(
            DeviceErrorName.INTERFACE_LOADING_FAILED,
            f"interface {where.interface!r} is not installed in realm {identity.realm!r}",
        )
    if compiled.interface.ownership is Ownership.SERVER:
        return Rejection(
            DeviceErrorName.WRITE_ON_SERVER_OWNED_INTERFACE,
            f"interface {where.interface} is server-owned; devices may not publish on it",
        )
    decode = compiled.decode_bson if looks_like_bson(payload) else compiled.decode_json
    decoded = decode(where.path, payload)
    if isinstance(decoded, Rejection):
        return decoded
    return {
        "realm": identity.realm,
        "device_id": identity.device_id,
        "interface": compiled.name,
        "major": compiled.major,
        "path": where.path,
        "value_type": decoded.value_type,
        "value": decoded.value,
        "timestamp": decoded.timestamp_us if decoded.timestamp_us is not None else received_us,
        "reception_timestamp": received_us,
        "reading_id": reading_id(packet_id, payload) if packet_id is not None else None,
    }


class Ingest:
    """Routes device messages to the ingest, dead-letter and device-event topics."""

    def __init__(
        self,
        interfaces: InterfaceCache,
        forwarder: Forwarder,
        producer: AIOKafkaProducer,
        topics: Topics,
        *,
        broker_id: str,
    ) -> None:
        self._interfaces = interfaces
        self._forwarder = forwarder
        self._producer = producer
        self._topics = topics
        self._broker_id = broker_id
        self.introspections = Introspections()
        # Set by the broker: resend server-owned properties when a device empties its cache.
        self.on_empty_cache: Callable[[DeviceIdentity], Awaitable[None]] | None = None

    async def publish(
        self,
        identity: DeviceIdentity,
        topic: str,
        payload: bytes,
        qos: int,
        counts: Counts | None = None,
        *,
        packet_id: int | None = None,
    ) -> None:
        """Handle one PUBLISH; returns once whatever it produced is acknowledged by Kafka.

        ``counts`` (messages and bytes per interface of this connection) gains accepted data.
        """
        RECEIVED[qos].inc()
        received = now_us()
        where = route(identity, topic)
        if where.kind is TopicKind.DATA:
            await self._forwarder.room()
            taken = self.accept(identity, where, payload, received, counts, packet_id=packet_id)
            if isinstance(taken, Rejection):
                await self.reject(
                    identity,
                    topic,
                    payload,
                    qos,
                    reason=taken.error.value,
                    detail=taken.detail,
                    received_us=received,
                )
                return
            await taken
        elif where.kind is TopicKind.FOREIGN:
            await self.reject(
                identity,
                topic,
                payload,
                qos,
                reason=UNAUTHORIZED_TOPIC,
                detail=f"device {identity.base_topic} may only publish under its own topic",
                received_us=received,
            )
        elif where.kind is TopicKind.CONTROL:
            await self._control(identity, topic, where.path, payload, qos, received=received)
        elif where.kind is TopicKind.INTROSPECTION:
            text = payload.decode("utf-8", "replace")
            parsed = self.introspections.declare(identity, payload)
            if isinstance(parsed, str):
                await self.reject(
                    identity,
                    topic,
                    payload,
                    qos,
                    reason=DeviceErrorName.INVALID_INTROSPECTION.value,
                    detail=parsed,
                    received_us=received,
                )
                return
            await self.event(identity, "incoming_introspection", metadata={"introspection": text})

    def accept(
        self,
        identity: DeviceIdentity,
        where: Route,
        payload: bytes,
        received: int,
        counts: Counts | None,
        *,
        packet_id: int | None = None,
    ) -> asyncio.Future[None] | Rejection:
        """Take a data PUBLISH now: the future of its Kafka acknowledgement, or why it is refused.

        Synchronous, so a reader can take every message of a socket read in one go; it neither
        counts the message as received nor waits for the forwarder's room (the caller does both).
        """
        declared = self.introspections.declared(identity)
        outcome = judge(
            self._interfaces, identity, where, payload, received, declared=declared, packet_id=packet_id
        )
        if isinstance(outcome, Rejection):
            return outcome
        future = self._forwarder.offer(
            outcome, self._forwarder.partition_for(identity.realm, identity.device_id)
        )
        if counts is not None:
            tally = counts.setdefault(where.interface, [0, 0])
            tally[0] += 1
            tally[1] += len(payload)
        return future

    async def room(self) -> None:
        """Wait until the forwarder takes more readings."""
        await self._forwarder.room()

    async def _control(
        self, identity: DeviceIdentity, topic: str, path: str, payload: bytes, qos: int, *, received: int
    ) -> None:
        if path == "/emptyCache":
            await self.event(identity, "device_empty_cache_received")
            if self.on_empty_cache is not None:
                await self.on_empty_cache(identity)
        elif path == "/producer/properties":
            entries = decode_purge_list(payload)
            if isinstance(entries, list):
                # The worker, which owns the properties, unsets the device-owned ones not listed.
                await self.event(identity, PRODUCER_PURGE, metadata={"kept": ";".join(entries)})
            else:
                await self.reject(
                    identity,
                    topic,
                    payload,
                    qos,
                    reason="unexpected_control_message",
                    detail=entries,
                    received_us=received,
                )
        else:
            await self.reject(
                identity,
                topic,
                payload,
                qos,
                reason="unexpected_control_message",
                detail=f"no control message {path}",
                received_us=received,
            )

    async def reject(
        self,
        identity: DeviceIdentity,
        topic: str,
        payload: bytes,
        qos: int,
        *,
        reason: str,
        detail: str,
        received_us: int,
    ) -> None:
        """Dead-letter a message with its reason (and at most 64 KiB of its payload) and tell about it."""
        metrics.messages_rejected.labels(reason).inc()
        log.info("refused %s from %s: %s (%s)", topic, identity.base_topic, reason, detail)
        record = dead_letters().encode(
            {
                "received_at": received_us,
                "broker_id": self._broker_id,
                "realm": identity.realm,
                "device_id": identity.device_id,
                "topic": topic,
                "qos": qos,
                "reason": reason,
                "detail": detail,
                **letter_payload(payload),
            }
        )
        key = identity.base_topic.encode()
        await self._producer.send_and_wait(self._topics.dlq, record, key=key)
        if reason != UNAUTHORIZED_TOPIC:
            await self.event(
                identity, "device_error", error_name=reason, metadata={"detail": detail, "topic": topic}
            )

    async def event(
        self,
        identity: DeviceIdentity,
        kind: str,
        *,
        ip_address: str | None = None,
        error_name: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Emit a device event (connected, disconnected, device_error, incoming_introspection)."""
        record = device_events().encode(
            {
                "timestamp": now_us(),
                "realm": identity.realm,
                "device_id": identity.device_id,
                "type": kind,
                "ip_address": ip_address,
                "error_name": error_name,
                "metadata": metadata or {},
            }
        )
        await self._producer.send_and_wait(
            self._topics.device_events, record, key=identity.base_topic.encode()
        )
