"""The device event log: hw.device-events records become rows of ClickHouse's ``device_events``.

Records are gathered until ``flush_rows`` or ``flush_interval`` and inserted at once; they are
acked (so their offsets may be committed) only after the insert returned, and a failing store
is retried with backoff while consumption waits. A replay is harmless: a row's id is a hash
of its record, and the table collapses repeats.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from pipeline import metrics
from pipeline.store.events import event_columns
from schemas.records import RecordError, device_events
from topologies.persist import retry

if TYPE_CHECKING:
    import faust
    from faust.types import EventT, StreamT

    from pipeline.store.clickhouse import ClickHouseStore

log = logging.getLogger(__name__)


class DeviceEventLog:
    """The event-log agent and its flush timer, registered on a faust app."""

    def __init__(
        self,
        app: faust.App,
        store: ClickHouseStore,
        events_topic: str,
        *,
        ttl_seconds: int = 0,
        flush_rows: int = 10_000,
        flush_interval: float = 0.1,
    ) -> None:
        self._store = store
        self._ttl_seconds = ttl_seconds
        self._flush_rows = flush_rows
        self._flush_interval = flush_interval
        self._codec = device_events()
        self._events: list[EventT[Any]] = []
        self._records: list[dict[str, Any]] = []
        self._oldest = 0.0
        self._lock = asyncio.Lock()
        self._stream: Any = None  # faust types the manual-ack stream loosely
        topic = app.topic(events_topic, value_serializer="raw", key_serializer="raw")
        app.agent(topic, name="device-event-log")(self._agent)
        app.timer(flush_interval / 2, name="device-event-log-flush")(self._tick)

    async def _agent(self, stream: StreamT[Any]) -> None:
        # noack(): faust must not ack (and so commit) an event before its row is stored.
        manual: Any = stream.noack()  # type: ignore[attr-defined]
        self._stream = manual
        async for event in manual.events():
            await self._take(event)

    async def _take(self, event: EventT[Any]) -> None:
        try:
            record = self._codec.decode(event.value)
        except RecordError as exc:
            log.error(
                "skipping an undecodable device event at %s@%d: %s",
                event.message.tp,
                event.message.offset,
                exc,
            )
            metrics.messages_rejected.labels("undecodable_device_event").inc()
            record = None
        async with self._lock:
            if not self._events:
                self._oldest = time.monotonic()
            self._events.append(event)
            if record is not None:
                self._records.append(record)
            if len(self._records) >= self._flush_rows:
                await self._flush()

    async def _tick(self) -> None:
        if self._events and time.monotonic() - self._oldest >= self._flush_interval:
            async with self._lock:
                await self._flush()

    async def _flush(self) -> None:
        """Insert what is held, retrying until the store takes it, then ack the events."""
        if not self._events:
            return
        if self._records:
            columns = event_columns(self._records, self._ttl_seconds)
            await retry(
                f"insert of {len(self._records)} device events",
                lambda: self._store.insert_device_events(columns),
            )
        assert self._stream is not None
        for event in self._events:
            await self._stream.ack(event)
        self._events, self._records = [], []
