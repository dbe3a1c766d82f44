"""Persistence: ingest batches become large ClickHouse inserts; offsets follow the inserts.

Each Kafka record already carries a batch of readings; the sink (``topologies.sink``)
gathers records until ``flush_rows`` readings or ``flush_interval`` and inserts them at
once, acking the records only after the insert returned. A replay is harmless: rows
carry stable ids and the table collapses repeats.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from faust.types import TP

from pipeline import metrics
from pipeline.store.columns import insert_columns
from schemas.records import ingest_batches
from topologies.sink import BufferedSink, retry
from topologies.watermarks import Watermarks

if TYPE_CHECKING:
    import faust
    from faust.types import EventT

    from pipeline.store.clickhouse import ClickHouseStore
    from pipeline.store.shapes import InterfaceShapes


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
    ) -> None:
        self._app = app
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
        return self._codec.decode(data)

    def rows(self, item: dict[str, Any]) -> int:
        return len(item["readings"])

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
