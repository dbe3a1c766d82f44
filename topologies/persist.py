"""Persistence: ingest batches become large ClickHouse inserts; offsets follow the inserts.

Each Kafka record already carries a batch of readings; the agent gathers records
until ``flush_rows`` or ``flush_interval`` and inserts them at once. Events are
acked (so their offsets may be committed) only after the insert returned. A
failing store is retried with backoff while consumption waits: nothing is
dropped. A replay is harmless: rows carry stable ids and the table collapses
repeats.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pipeline import metrics
from pipeline.errors import StoreError
from pipeline.store.columns import insert_columns
from schemas.records import RecordError, ingest_batches

if TYPE_CHECKING:
    import faust
    from faust.types import EventT, StreamT

    from pipeline.store.clickhouse import ClickHouseStore
    from pipeline.store.shapes import InterfaceShapes

log = logging.getLogger(__name__)

MAX_BACKOFF = 5.0


class PersistTopology:
    """The persist agent and its flush timer, registered on a faust app."""

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
        self._store = store
        # Without shapes every reading is a datastream and object members get guessed types.
        self._shapes = shapes
        self._flush_rows = flush_rows
        self._flush_interval = flush_interval
        self._codec = ingest_batches()
        self._events: list[EventT[Any]] = []
        self._batches: list[dict[str, Any]] = []
        self._rows = 0
        self._oldest = 0.0
        self._lock = asyncio.Lock()
        self._stream: Any = None  # faust types the manual-ack stream loosely
        topic = app.topic(ingest_topic, value_serializer="raw", key_serializer="raw")
        app.agent(topic, name="persist")(self._agent)
        app.timer(flush_interval / 2, name="persist-flush")(self._tick)

    async def _agent(self, stream: StreamT[Any]) -> None:
        # noack(): faust must not ack (and so commit) an event before its rows are stored.
        manual: Any = stream.noack()  # type: ignore[attr-defined]
        self._stream = manual
        async for event in manual.events():
            await self._take(event)

    async def _take(self, event: EventT[Any]) -> None:
        try:
            batch = self._codec.decode(event.value)
        except RecordError as exc:
            log.error(
                "skipping an undecodable ingest record at %s@%d: %s",
                event.message.tp,
                event.message.offset,
                exc,
            )
            metrics.messages_rejected.labels("undecodable_ingest_record").inc()
            batch = None
        async with self._lock:
            if not self._events:
                self._oldest = time.monotonic()
            self._events.append(event)
            if batch is not None:
                self._batches.append(batch)
                self._rows += len(batch["readings"])
            if self._rows >= self._flush_rows:
                await self._flush()

    async def _tick(self) -> None:
        self._report_lag()
        if self._events and time.monotonic() - self._oldest >= self._flush_interval:
            async with self._lock:
                await self._flush()

    async def _flush(self) -> None:
        """Insert what is held, retrying until the store takes it, then ack the events."""
        if not self._events:
            return
        if self._batches:
            shapes = self._shapes
            if shapes is not None:
                keys = {
                    (r["realm"], r["interface"], r["major"]) for b in self._batches for r in b["readings"]
                }
                await retry("interface lookup", lambda: shapes.load(keys))
            columns = insert_columns(self._batches, shapes.get if shapes is not None else None)
            if columns.individual_rows:
                await self._insert(self._store.insert_individual, columns.individual, columns.individual_rows)
            if columns.property_rows:
                await self._insert(self._store.insert_properties, columns.properties, columns.property_rows)
        assert self._stream is not None
        for event in self._events:
            await self._stream.ack(event)
            self._acked[event.message.tp] = event.message.offset
        self._events, self._batches, self._rows = [], [], 0

    def _report_lag(self) -> None:
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


async def retry(what: str, attempt: Callable[[], Awaitable[None]]) -> None:
    """Run ``attempt`` until it succeeds, backing off; consumption waits meanwhile."""
    backoff = 0.1
    while True:
        try:
            await attempt()
        except StoreError as exc:
            metrics.store_failures.inc()
            log.warning("%s failed, retrying in %.1f s: %s", what, backoff, exc)
        except Exception as exc:  # the registry's driver errors vary; all mean "try again"
            log.warning("%s failed, retrying in %.1f s: %r", what, backoff, exc)
        else:
            return
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF)
