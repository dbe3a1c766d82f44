"""The device event log: hw.device-events records become rows of ClickHouse's ``device_events``.

Records are gathered until ``flush_rows`` or ``flush_interval`` and inserted at once by the
sink (``topologies.sink``); they are acked (so their offsets may be committed) only after the
insert returned, and a failing store is retried with backoff while consumption waits. A
replay is harmless: a row's id is a hash of its record, and the table collapses repeats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.store.events import event_columns
from schemas.records import device_events
from topologies.sink import BufferedSink, retry

if TYPE_CHECKING:
    import faust

    from pipeline.store.clickhouse import ClickHouseStore


class DeviceEventLog(BufferedSink[dict[str, Any]]):
    """The event-log agent and its flush timer, registered on a faust app."""

    what = "device event"

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
        self._codec = device_events()
        super().__init__(
            app, events_topic, name="device-event-log", flush_rows=flush_rows, flush_interval=flush_interval
        )

    def decode(self, data: bytes) -> dict[str, Any]:
        return self._codec.decode(data)

    async def store(self, items: list[dict[str, Any]]) -> None:
        columns = event_columns(items, self._ttl_seconds)
        what = f"insert of {len(items)} device events"
        await retry(what, lambda: self._store.insert_device_events(columns))
