"""Kafka plumbing shared by every process: topic names, client settings, topic creation.

aiokafka's defaults (acks=1, no idempotence, auto-commit, offset reset latest)
are wrong for Headwater, so every client is built here with explicit ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from pipeline.errors import StartupError

if TYPE_CHECKING:
    from pipeline.settings import KafkaSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic names for one prefix."""

    ingest: str
    dlq: str
    device_events: str
    registry: str
    downlink: str
    trigger_events: str
    trigger_dlq: str = ""
    trigger_state: str = ""

    @classmethod
    def of(cls, settings: KafkaSettings) -> Topics:
        return cls(
            ingest=settings.topic("ingest"),
            dlq=settings.topic("dlq"),
            device_events=settings.topic("device-events"),
            registry=settings.topic("registry"),
            downlink=settings.topic("downlink"),
            trigger_events=settings.topic("trigger-events"),
            trigger_dlq=settings.topic("trigger-dlq"),
            trigger_state=settings.topic("trigger-state"),
        )

    def partitions(self, settings: KafkaSettings) -> dict[str, int]:
        """How many partitions each topic gets when Headwater creates it."""
        device_partitions = settings.ingest_partitions
        return {
            self.ingest: device_partitions,
            self.dlq: 1,
            self.device_events: device_partitions,
            self.registry: 1,
            self.downlink: device_partitions,
            self.trigger_events: device_partitions,
            self.trigger_dlq: 1,
            self.trigger_state: device_partitions,
        }


def producer(settings: KafkaSettings, **overrides: Any) -> AIOKafkaProducer:
    """A producer that waits for every in-sync replica and, where the broker allows, is idempotent."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "acks": settings.acks,
        "enable_idempotence": settings.idempotence,
        "request_timeout_ms": settings.request_timeout_ms,
        "max_request_size": settings.max_request_size,
        "linger_ms": 0,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def consumer(
    settings: KafkaSettings, *topics: str, group_id: str | None, **overrides: Any
) -> AIOKafkaConsumer:
    """A consumer that commits by hand and starts from the earliest record it has not committed."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": 50,
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


async def ensure_topics(settings: KafkaSettings, *, within: float = 30.0) -> Topics:
    """Create Headwater's topics where missing, waiting for the broker to answer."""
    topics = Topics.of(settings)
    deadline = asyncio.get_running_loop().time() + within
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            wanted = [
                NewTopic(name, partitions, 1)
                for name, partitions in topics.partitions(settings).items()
                if name not in existing
            ]
            if wanted:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(wanted)
            return topics
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise StartupError(
                    f"Kafka at {settings.bootstrap_servers} did not answer within {within:.0f} s: {exc}"
                ) from exc
            log.info("waiting for Kafka at %s: %s", settings.bootstrap_servers, exc)
            await asyncio.sleep(0.2)
        finally:
            await admin.close()


async def unconsumed(settings: KafkaSettings, group_id: str, *topics: str) -> int:
    """Records of ``topics`` past what ``group_id`` committed (all of them where it committed none)."""
    # A consumer of the group that never joins it: it only reads the group's committed offsets.
    reader = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=group_id, enable_auto_commit=False
    )
    await reader.start()
    try:
        await reader.topics()  # metadata of every topic, so partitions_for_topic knows them
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in reader.partitions_for_topic(topic) or ()
        ]
        if not partitions:
            return 0
        ends = await reader.end_offsets(partitions)
        starts = await reader.beginning_offsets(partitions)
        left = 0
        for tp in partitions:
            done = await reader.committed(tp)
            left += max(0, ends[tp] - (done if done is not None else starts[tp]))
        return left
    finally:
        await reader.stop()


class TopicFollower:
    """Reads every partition of a topic from its end (no consumer group) and hands each record on.

    Every process that follows a topic sees all of it: brokers following registry notices or
    downlink values. Start it before loading the state the records update, so nothing in between is
    missed. A handler that raises is logged and the next record still comes.
    """

    def __init__(
        self, settings: KafkaSettings, topic: str, handle: Callable[[bytes], Awaitable[None]]
    ) -> None:
        self._consumer = consumer(settings, topic, group_id=None, auto_offset_reset="latest")
        self._topic = topic
        self._handle = handle
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        await self._consumer.seek_to_end()
        for partition in self._consumer.assignment():
            await self._consumer.position(partition)
        self._task = asyncio.create_task(self._run(), name=f"follow {self._topic}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    async def _run(self) -> None:
        async for message in self._consumer:
            try:
                await self._handle(message.value or b"")
            except Exception:  # one bad record must not stop the records after it
                log.exception("could not handle the record of %s at offset %d", self._topic, message.offset)


def device_partition(realm: str, device_id: str, partitions: int) -> int:
    """The partition of a device's records (crc32, not hash(): it must agree across processes)."""
    return zlib.crc32(f"{realm}/{device_id}".encode()) % max(1, partitions)
