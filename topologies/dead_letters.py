"""The dead-letter log: hw.dlq records become rows of ClickHouse's ``dead_letters``, for the API to list.

Records are gathered and inserted at once by the sink (``topologies.sink``) and acked only
after the insert returned. ``insert`` is the store's (the worker composes it); a record it
can never store is logged and counted, never dead-lettered again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from schemas.records import dead_letters
from topologies.sink import BufferedSink, retry

if TYPE_CHECKING:
    import faust

Insert = Callable[[list[dict[str, Any]]], Awaitable[None]]
"""Store decoded dead-letter records (raises the store's errors)."""


class DeadLetterLog(BufferedSink[dict[str, Any]]):
    """The dead-letter agent and its flush timer, registered on a faust app."""

    what = "dead letter"

    def __init__(
        self,
        app: faust.App,
        insert: Insert,
        dead_letter_topic: str,
        *,
        flush_rows: int = 10_000,
        flush_interval: float = 0.1,
    ) -> None:
        self._insert = insert
        self._codec = dead_letters()
        super().__init__(
            app,
            dead_letter_topic,
            name="dead-letter-log",
            flush_rows=flush_rows,
            flush_interval=flush_interval,
        )

    def decode(self, data: bytes) -> dict[str, Any]:
        return self._codec.decode(data)

    async def store(self, items: list[dict[str, Any]]) -> None:
        await retry(f"insert of {len(items)} dead letters", lambda: self._insert(items))
