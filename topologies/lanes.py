"""Delivery lanes: the trigger events waiting under one delivery policy, and how many run at once.

A lane runs at most ``prefetch_count`` deliveries at a time, starting them in arrival
order (so 1 keeps a trigger's events in order), and keeps at most ``maximum_capacity``
waiting: one more drops the oldest waiting event, as Astarte's policies do. Items are
handed to ``run`` and then to ``finish`` with their outcome (``dropped`` for the ones
pushed out), so the caller can ack each exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
DROPPED = "dropped"


class _Lane(Generic[T]):
    __slots__ = ("capacity", "prefetch", "running", "waiting")

    def __init__(self) -> None:
        self.waiting: deque[T] = deque()
        self.running = 0
        self.capacity = 1
        self.prefetch = 1


class Lanes(Generic[T]):
    """Per-key lanes of work; ``put`` never waits, ``join`` waits until every item finished."""

    def __init__(
        self, run: Callable[[T], Awaitable[str]], finish: Callable[[T, str], Awaitable[None]]
    ) -> None:
        self._run = run
        self._finish = finish
        self._lanes: dict[Hashable, _Lane[T]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._freed = asyncio.Event()

    def put(self, key: Hashable, item: T, *, capacity: int, prefetch: int) -> None:
        """Queue ``item`` in lane ``key`` (the policy's current limits apply from now on)."""
        lane = self._lanes.setdefault(key, _Lane())
        lane.capacity, lane.prefetch = capacity, prefetch
        while len(lane.waiting) >= capacity:
            self._spawn(self._finish(lane.waiting.popleft(), DROPPED))
        lane.waiting.append(item)
        self._pump(lane)

    @property
    def backlog(self) -> int:
        """Items waiting or running, in every lane."""
        return sum(len(lane.waiting) + lane.running for lane in self._lanes.values())

    async def room(self, limit: int) -> None:
        """Wait while ``limit`` or more items are held (the reader's backpressure)."""
        while self.backlog >= limit:
            self._freed.clear()
            await self._freed.wait()

    def waiting(self, key: Hashable) -> int:
        lane = self._lanes.get(key)
        return len(lane.waiting) if lane is not None else 0

    async def join(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()

    def _pump(self, lane: _Lane[T]) -> None:
        while lane.waiting and lane.running < lane.prefetch:
            lane.running += 1
            self._spawn(self._deliver(lane, lane.waiting.popleft()))

    async def _deliver(self, lane: _Lane[T], item: T) -> None:
        try:
            outcome = await self._run(item)
            await self._finish(item, outcome)
        finally:
            lane.running -= 1
            self._pump(lane)
            self._freed.set()

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a delivery lane task failed", exc_info=task.exception())
