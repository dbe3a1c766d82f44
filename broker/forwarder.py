"""Batching valid readings into Kafka: one ingest record carries many readings of one partition.

A reading's future resolves only once Kafka acknowledged the record holding it,
so the device's PUBACK can wait for that. Partitions follow a stable hash of
``realm/device_id``, which keeps one device's readings in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
import zlib
from typing import TYPE_CHECKING, Any

from aiokafka.errors import KafkaError

from broker.errors import ForwardError
from pipeline import metrics
from schemas.records import ingest_batches

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

log = logging.getLogger(__name__)


class _Batch:
    """The readings of one partition bound for one Kafka record, and the future they share."""

    __slots__ = ("done", "readings")

    def __init__(self) -> None:
        self.readings: list[dict[str, Any]] = []
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class Forwarder:
    """Collects readings per partition and flushes them every few milliseconds or when a batch is full."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        *,
        broker_id: str,
        flush_interval: float = 0.005,
        max_batch: int = 2000,
        max_pending: int = 100_000,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._broker_id = broker_id
        self._interval = flush_interval
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._codec = ingest_batches()
        self._open: dict[int, _Batch] = {}
        self._ready: list[tuple[int, _Batch]] = []
        self._partitions = 1
        self._pending = 0
        self._has_data = asyncio.Event()
        self._full = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        partitions = await self._producer.partitions_for(self._topic)
        self._partitions = max(1, len(partitions))
        self._task = asyncio.create_task(self._run(), name="forwarder")

    async def stop(self) -> None:
        """Flush what is buffered, wait for Kafka's answers, then stop."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._flush()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    def partition_for(self, realm: str, device_id: str) -> int:
        # crc32, not hash(): it must agree across processes and restarts.
        return zlib.crc32(f"{realm}/{device_id}".encode()) % self._partitions

    async def forward(self, reading: dict[str, Any], partition: int) -> None:
        """Queue one reading; return once Kafka acknowledged it, or raise ForwardError."""
        await self.room()
        await self.offer(reading, partition)

    async def room(self) -> None:
        """Wait while too many readings await Kafka's answer (the callers' backpressure)."""
        while self._pending >= self._max_pending:
            self._room.clear()
            await self._room.wait()

    def offer(self, reading: dict[str, Any], partition: int) -> asyncio.Future[None]:
        """Queue one reading now; the future resolves once Kafka acknowledged it (or holds ForwardError).

        Readings batched together share one future. It does not wait for room: a caller that
        offers many readings awaits ``room()`` between them.
        """
        batch = self._open.get(partition)
        if batch is None:
            batch = self._open[partition] = _Batch()
        batch.readings.append(reading)
        self._pending += 1
        self._has_data.set()
        if len(batch.readings) >= self._max_batch:
            self._ready.append((partition, self._open.pop(partition)))
            self._full.set()
        return batch.done

    async def _run(self) -> None:
        while True:
            await self._has_data.wait()
            if not self._full.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self._interval)
            await self._flush()

    async def _flush(self) -> None:
        self._has_data.clear()
        self._full.clear()
        ready, self._ready = self._ready, []
        ready.extend(self._open.items())
        self._open = {}
        for partition, batch in ready:
            await self._send(partition, batch)

    async def _send(self, partition: int, batch: _Batch) -> None:
        id_base = secrets.randbits(62)
        try:
            record = self._codec.encode(
                {
                    "batch_id": uuid.uuid4().hex,
                    "id_base": id_base,
                    "broker_id": self._broker_id,
                    "produced_at": time.time_ns() // 1000,
                    "readings": batch.readings,
                }
            )
        except (ValueError, TypeError, OverflowError) as exc:
            # Validation should make this impossible; if a reading slips through that no record can
            # hold, its batch fails (the devices resend) and the forwarder goes on with the others.
            log.error("could not encode a batch of %d readings: %s", len(batch.readings), exc)
            self._settle(batch, exc)
            return
        started = time.perf_counter()
        try:
            delivery = await self._producer.send(self._topic, record, partition=partition)
        except KafkaError as exc:
            self._settle(batch, exc)
            return
        task = asyncio.create_task(self._await_ack(delivery, batch, started))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _await_ack(self, delivery: asyncio.Future[Any], batch: _Batch, started: float) -> None:
        try:
            await delivery
        except KafkaError as exc:
            self._settle(batch, exc)
            return
        metrics.kafka_produce_seconds.observe(time.perf_counter() - started)
        metrics.ingest_batch_readings.observe(len(batch.readings))
        metrics.readings_forwarded.inc(len(batch.readings))
        self._settle(batch, None)

    def _settle(self, batch: _Batch, error: Exception | None) -> None:
        if isinstance(error, KafkaError):
            log.warning(
                "Kafka refused a batch of %d readings for %s: %s", len(batch.readings), self._topic, error
            )
        if not batch.done.done():
            if error is None:
                batch.done.set_result(None)
            elif isinstance(error, KafkaError):
                batch.done.set_exception(ForwardError(f"Kafka did not acknowledge {self._topic}: {error}"))
            else:
                batch.done.set_exception(ForwardError(f"a batch for {self._topic} is not encodable: {error}"))
        self._pending -= len(batch.readings)
        if self._pending < self._max_pending:
            self._room.set()
