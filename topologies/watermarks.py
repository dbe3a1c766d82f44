"""How far each partition's records are stored, for work that must come after the insert.

The persist sink advances a partition's watermark when it acks a record (after the
ClickHouse insert returned); trigger evaluation waits on it before it fires the
``stored`` phase (value_stored, path_created, value_change_applied, path_removed),
so a webhook that queries the API finds the value there, as Astarte's do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable


class Watermarks:
    """The offset through which each partition's records are stored; waiting for one."""

    def __init__(self) -> None:
        self._through: dict[Hashable, int] = {}
        self._waiters: dict[Hashable, list[tuple[int, asyncio.Future[None]]]] = {}

    def advance(self, partition: Hashable, offset: int) -> None:
        """Records of ``partition`` through ``offset`` are stored."""
        if offset <= self._through.get(partition, -1):
            return
        self._through[partition] = offset
        waiting = self._waiters.get(partition)
        if not waiting:
            return
        still = []
        for wanted, future in waiting:
            if wanted <= offset:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((wanted, future))
        self._waiters[partition] = still

    def through(self, partition: Hashable) -> int:
        """The offset through which ``partition`` is stored (-1: nothing yet)."""
        return self._through.get(partition, -1)

    async def wait(self, partition: Hashable, offset: int) -> None:
        """Return once the record at ``offset`` of ``partition`` is stored."""
        if offset <= self._through.get(partition, -1):
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(partition, []).append((offset, future))
        await future
