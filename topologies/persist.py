"""Persistence: ingest batches become large ClickHouse inserts; offsets follow the inserts.

Each Kafka record already carries a batch of readings; the sink (``topologies.sink``)
gathers records until ``flush_rows`` readings or ``flush_interval`` and inserts them at
once, acking the records only after the insert returned. A replay is harmless: rows
carry stable ids and the table collapses repeats.

A reading that can never be stored goes to the dead-letter topic with the reason, and the
records are acked past it: readings whose times or values ClickHouse cannot hold are sorted
out as they are decoded (``unstorable``), and one the insert refuses is found by halving the
flush (``BufferedSink``), the others being stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from faust.types import TP

from pipeline import metrics
from pipeline.store.columns import insert_columns, unstorable
from schemas.dead_letters import STORE_REFUSED, UNSTORABLE, worker_letter
from schemas.records import dead_letters, ingest_batches
from topologies.sink import BufferedSink, retry
from topologies.watermarks import Watermarks

if TYPE_CHECKING:
    import faust
    from aiokafka import AIOKafkaProducer
    from faust.types import EventT

    from pipeline.store.clickhouse import ClickHouseStore
    from pipeline.store.shapes import InterfaceShapes

log = logging.getLogger(__name__)
REFUSED = "refused"  # in a held batch: the readings sorted out at decoding, with why


class PersistTopology(BufferedSink[dict[str, Any]]):
    """The persist agent and its flush timer, registered on a faust app."""

    what = "ingest record"

    def __init__(
        self,
        app: faust.App,
        store: ClickHouseStore,
        ingest_topic: str,
        *,
        flush_rows: int = 50_000,
        flush_interval: float = 0.1,
        shapes: InterfaceShapes | None = None,
        producer: AIOKafkaProducer | None = None,
        dead_letter_topic: str | None = None,
    ) -> None:
        self._app = app
        # Without a producer, unstorable readings are only logged and counted.
        self._producer = producer
        self._dlq = dead_letter_topic
        self._acked: dict[Any, int] = {}
        self.stored = Watermarks()
        self._store = store
        self._topic = ingest_topic
        # Without shapes every reading is a datastream and object members get guessed types.
        self._shapes = shapes
        self._codec = ingest_batches()
        super().__init__(
            app, ingest_topic, name="persist", flush_rows=flush_rows, flush_interval=flush_interval
        )

    async def caught_up(self, realm: str, device_id: str, within: float) -> bool:
        """Wait (at most ``within`` s) until what Kafka holds of the device's partition is stored,
        so a read that follows a device's message finds it; False if not in time or not ours."""
        consumer = self._app.consumer
        count = consumer.topic_partitions(self._topic)
        if not count:
            return False
        tp = TP(self._topic, zlib.crc32(f"{realm}/{device_id}".encode()) % count)
        if tp not in consumer.assignment():
            return False
        # The highwater the last fetch saw, not a ListOffsets round trip: the consumer long-polls,
        # so it lags a new record by a fetch response at most, and this runs on every data read.
        end = consumer.highwater(tp)
        if not end or self.stored.through(tp) >= end - 1:
            return True
        try:
            async with asyncio.timeout(within):
                await self.flush_through(tp, end - 1)
                await self.stored.wait(tp, end - 1)
        except TimeoutError:
            return False
        return True

    def decode(self, data: bytes) -> dict[str, Any]:
        batch = self._codec.decode(data)
        readings = batch["readings"]
        reasons = [unstorable(r) for r in readings]
        if not any(reasons):
            return batch
        base = batch["id_base"]
        kept = [i for i, reason in enumerate(reasons) if reason is None]
        return {
            **batch,
            "readings": [readings[i] for i in kept],
            "ids": [base + i for i in kept],
            REFUSED: [(readings[i], reason) for i, reason in enumerate(reasons) if reason is not None],
        }

    def rows(self, item: dict[str, Any]) -> int:
        return len(item["readings"])

    async def before_store(self, items: list[dict[str, Any]]) -> None:
        for batch in items:
            for reading, reason in batch.get(REFUSED, ()):
                await self._dead_letter(reading, UNSTORABLE, reason)

    def split(self, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
        if len(items) > 1:
            return super().split(items)
        [batch] = items
        readings = batch["readings"]
        if len(readings) < 2:
            return None
        ids = batch.get("ids") or [batch["id_base"] + i for i in range(len(readings))]
        middle = len(readings) // 2
        halves = [(readings[:middle], ids[:middle]), (readings[middle:], ids[middle:])]
        first, second = ({**batch, "readings": r, "ids": i} for r, i in halves)
        return [first], [second]

    async def refuse(self, item: dict[str, Any], exc: Exception) -> None:
        for reading in item["readings"]:  # one reading: split() halves down to that
            await self._dead_letter(reading, STORE_REFUSED, str(exc))

    async def _dead_letter(self, reading: dict[str, Any], reason: str, detail: str) -> None:
        where = f"{reading['realm']}/{reading['device_id']} {reading['interface']}{reading['path']}"
        log.error("dead-lettering an unstorable reading of %s: %s (%s)", where, reason, detail)
        metrics.messages_rejected.labels(reason).inc()
        if self._producer is None or self._dlq is None:
            return
        record = dead_letters().encode(worker_letter(reading, reason, detail))
        key = f"{reading['realm']}/{reading['device_id']}".encode()
        producer, topic = self._producer, self._dlq
        try:
            await retry(f"dead letter of {where}", lambda: producer.send_and_wait(topic, record, key=key))
        except Exception:  # Kafka refuses the letter itself (too large): the log above keeps it
            log.exception("could not dead-letter the reading of %s", where)

    async def store(self, items: list[dict[str, Any]]) -> None:
        shapes = self._shapes
        if shapes is not None:
            keys = {(r["realm"], r["interface"], r["major"]) for b in items for r in b["readings"]}
            await retry("interface lookup", lambda: shapes.load(keys))
        columns = insert_columns(items, shapes.get if shapes is not None else None)
        if columns.individual_rows:
            await self._insert(self._store.insert_individual, columns.individual, columns.individual_rows)
        if columns.property_rows:
            await self._insert(self._store.insert_properties, columns.properties, columns.property_rows)

    def acked(self, event: EventT[Any]) -> None:
        self._acked[event.message.tp] = event.message.offset
        self.stored.advance(event.message.tp, event.message.offset)

    def ticked(self) -> None:
        """Per partition: records Kafka holds past the last one stored (after at least one was)."""
        for tp, offset in self._acked.items():
            highwater = self._app.consumer.highwater(tp)
            if highwater is not None:
                metrics.consumer_lag.labels(str(tp.partition)).set(max(0, highwater - offset - 1))

    async def _insert(
        self, insert: Callable[[list[list[Any]]], Awaitable[None]], columns: list[list[Any]], rows: int
    ) -> None:
        async def attempt() -> None:
            started = time.perf_counter()
            await insert(columns)
            metrics.clickhouse_insert_seconds.observe(time.perf_counter() - started)

        await retry(f"insert of {rows} rows", attempt)
        metrics.rows_persisted.inc(rows)
