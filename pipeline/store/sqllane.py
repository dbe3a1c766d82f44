"""A lane of its own for queries that may be heavy (analysts' SQL): threads and clients apart.

The store runs the ingest path's inserts and the API's reads on its one thread and client; a
query sent to a ``SqlLane`` runs on another thread with another client (chDB allows several
clients of its one engine, each serialised on its own lock), so those never wait behind it.
At most ``size`` lane queries run at once; one more waits up to its ``wait_s`` for a lane,
then is refused with ``BusyError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from clickhouse_connect.driver.exceptions import ClickHouseError

from pipeline.errors import BusyError, StoreError


class SqlLane:
    """Runs queries on ``size`` threads, each with a client made by ``connect`` when first needed."""

    def __init__(self, connect: Callable[[], Any], *, size: int, where: str) -> None:
        self.size = size
        self._connect = connect
        self._where = where
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="clickhouse-sql")
        self._slots: asyncio.Semaphore | None = None
        self._local = threading.local()
        self._clients: list[Any] = []
        self._lock = threading.Lock()

    async def query(self, sql: str, *, wait_s: float = 5.0) -> list[tuple[Any, ...]]:
        """The rows of ``sql``, run on a free lane; BusyError when none frees up in time."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size)
        slots = self._slots
        try:
            await asyncio.wait_for(slots.acquire(), wait_s)
        except TimeoutError:
            raise BusyError(
                f"all {self.size} SQL lanes stayed busy for {wait_s:g} s: try again later"
            ) from None
        loop = asyncio.get_running_loop()
        running = self._executor.submit(self._run, sql)
        # The lane is free when the query ends, not when its caller stops waiting (a client that
        # hung up leaves its query running until ClickHouse's own limits stop it).
        running.add_done_callback(lambda _: _release(loop, slots))
        try:
            return await asyncio.wrap_future(running)
        except ClickHouseError as exc:
            raise StoreError(f"ClickHouse at {self._where}: {exc}") from exc

    def _run(self, sql: str) -> list[tuple[Any, ...]]:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._connect()
            with self._lock:
                self._clients.append(client)
        return list(client.query(sql).result_rows)

    def stop(self) -> None:
        """Wait for running queries, then close the lane's clients."""
        self._executor.shutdown(wait=True)
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()


def _release(loop: asyncio.AbstractEventLoop, slots: asyncio.Semaphore) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits for a lane
        loop.call_soon_threadsafe(slots.release)
