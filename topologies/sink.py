"""A buffered sink agent: Kafka records gathered, stored at once, acked only once stored.

Records are decoded as they come and held until ``flush_rows`` rows or
``flush_interval`` seconds; then the subclass stores them in one go and the
events are acked (so their offsets may be committed).

A failure that may pass (``retriable``: ClickHouse unreachable, a timeout) is
retried with one backoff while consumption waits: nothing is dropped, and the
sink's partitions pause together as they share the one store. Any other
failure means some held item can never be stored: the held items are split in
halves until the failing ones are alone, the rest are stored, and each failing
one is handed to ``refuse`` (the persist topology dead-letters it with the
reason); the events are acked past it, so no record stops a partition. An
undecodable record is logged, counted and acked with the rest (it can never be
stored).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aiokafka.errors import KafkaError

from pipeline import metrics
from pipeline.errors import StoreError
from schemas.errors import HeadwaterError
from schemas.records import RecordError

if TYPE_CHECKING:
    import faust
    from faust.types import EventT, StreamT

log = logging.getLogger(__name__)

MAX_BACKOFF = 5.0
T = TypeVar("T")


class BufferedSink(Generic[T]):
    """The agent and flush timer of one topic; subclasses decode, size and store what was held."""

    what = "record"  # for logs and the rejection metric: "an undecodable <what>"

    def __init__(
        self, app: faust.App, topic: str, *, name: str, flush_rows: int, flush_interval: float
    ) -> None:
        self._flush_rows = flush_rows
        self._flush_interval = flush_interval
        self._events: list[EventT[Any]] = []
        self._held: list[T] = []
        self._rows = 0
        self._oldest = 0.0
        self._lock = asyncio.Lock()
        # Partition -> offset a reader waits for: the record at it is stored on arrival, not on a tick.
        self._urgent: dict[Any, int] = {}
        self._stream: Any = None  # faust types the manual-ack stream loosely
        source = app.topic(topic, value_serializer="raw", key_serializer="raw")
        app.agent(source, name=name)(self._agent)
        app.timer(flush_interval / 2, name=f"{name}-flush")(self._tick)

    def decode(self, data: bytes) -> T:
        """One record's content; raises ``RecordError`` when it cannot be read."""
        raise NotImplementedError

    def rows(self, item: T) -> int:
        """How many rows an item will store (it counts towards ``flush_rows``)."""
        return 1

    async def store(self, items: list[T]) -> None:
        """Store the held items (use ``retry`` around each write); a non-retriable error refuses them."""
        raise NotImplementedError

    def split(self, items: list[T]) -> tuple[list[T], list[T]] | None:
        """Two halves of items that failed to store together; None for one indivisible item."""
        if len(items) < 2:
            return None
        middle = len(items) // 2
        return items[:middle], items[middle:]

    async def refuse(self, item: T, exc: Exception) -> None:
        """An item that can never be stored (``exc`` says why); the default logs and counts it."""
        log.error("dropping an unstorable %s: %s", self.what, exc)
        metrics.messages_rejected.labels(f"unstorable_{self.what.replace(' ', '_')}").inc()

    async def before_store(self, items: list[T]) -> None:
        """Called once per flush before ``store`` (e.g. to dead-letter what decoding sorted out)."""

    def acked(self, event: EventT[Any]) -> None:
        """Called for each event acked after its items were stored."""

    def ticked(self) -> None:
        """Called on every timer tick."""

    async def _agent(self, stream: StreamT[Any]) -> None:
        # noack(): faust must not ack (and so commit) an event before its rows are stored.
        manual: Any = stream.noack()  # type: ignore[attr-defined]
        self._stream = manual
        async for event in manual.events():
            await self._take(event)

    async def _take(self, event: EventT[Any]) -> None:
        try:
            item: T | None = self.decode(event.value)
        except RecordError as exc:
            where = f"{event.message.tp}@{event.message.offset}"
            log.error("skipping an undecodable %s at %s: %s", self.what, where, exc)
            metrics.messages_rejected.labels(f"undecodable_{self.what.replace(' ', '_')}").inc()
            item = None
        async with self._lock:
            if not self._events:
                self._oldest = time.monotonic()
            self._events.append(event)
            if item is not None:
                self._held.append(item)
                self._rows += self.rows(item)
            if self._rows >= self._flush_rows or (
                self._urgent and event.message.offset >= self._urgent.get(event.message.tp, 1 << 62)
            ):
                await self._flush()

    async def flush_through(self, partition: Any, offset: int) -> None:
        """Store the record at ``offset`` of ``partition`` as soon as it is held (now, if it is)
        rather than at the next tick: a reader is waiting for it."""
        self._urgent[partition] = max(self._urgent.get(partition, -1), offset)
        async with self._lock:
            if any(e.message.tp == partition and e.message.offset >= offset for e in self._events):
                await self._flush()

    async def _tick(self) -> None:
        self.ticked()
        if self._events and time.monotonic() - self._oldest >= self._flush_interval:
            async with self._lock:
                await self._flush()

    async def _flush(self) -> None:
        """Store what is held, retrying until the store takes it, then ack the events."""
        if not self._events:
            return
        if self._held:
            await self.before_store(self._held)
            await self._store_or_refuse(self._held)
        assert self._stream is not None
        for event in self._events:
            await self._stream.ack(event)
            self.acked(event)
            if self._urgent.get(event.message.tp, 1 << 62) <= event.message.offset:
                del self._urgent[event.message.tp]
        self._events, self._held, self._rows = [], [], 0

    async def _store_or_refuse(self, items: list[T]) -> None:
        """Store ``items``; on a permanent failure store the halves apart, down to the failing items.

        Halving costs about two inserts per level for each failing item (log2 of the flush), so
        one bad reading among 50,000 costs some 32 small inserts, paid only when it happens.
        """
        try:
            await self.store(items)
        except Exception as exc:
            if retriable(exc):  # store() retries these itself; one that escapes is a bug to see
                raise
            halves = self.split(items)
            if halves is None:
                await self.refuse(items[0], exc)
                return
            log.warning("storing %d %ss failed for good, isolating the cause: %s", len(items), self.what, exc)
            for half in halves:
                await self._store_or_refuse(half)


def retriable(exc: BaseException) -> bool:
    """Whether the same call may succeed later (a store or broker away, a timeout)."""
    if isinstance(exc, HeadwaterError | KafkaError):
        return bool(exc.retriable)
    return isinstance(exc, OSError | TimeoutError)


class Backoff:
    """The one backoff of the sinks: 0.1 s doubling up to ``MAX_BACKOFF``."""

    def __init__(self, first: float = 0.1, most: float = MAX_BACKOFF) -> None:
        self._next = first
        self._most = most

    async def wait(self) -> float:
        """Sleep the current delay and lengthen the next one; returns the delay slept."""
        delay = self._next
        self._next = min(delay * 2, self._most)
        await asyncio.sleep(delay)
        return delay


async def retry(what: str, attempt: Callable[[], Awaitable[T]], *, every_error: bool = False) -> T:
    """Run ``attempt`` until it succeeds while its errors are retriable; raise the first that is not.

    Consumption waits meanwhile (the sink's backpressure): a store that is away pauses reading.
    ``every_error`` retries whatever fails, for work with no record to set aside.
    """
    backoff = Backoff()
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if not (every_error or retriable(exc)):
                raise
            if isinstance(exc, StoreError):
                metrics.store_failures.inc()
            log.warning("%s failed, retrying: %r", what, exc)
        await backoff.wait()
