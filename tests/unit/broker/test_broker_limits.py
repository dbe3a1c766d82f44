"""A connection's limits: a device that stops reading is dropped, one with too many pending acks waits."""

from __future__ import annotations

import asyncio
from collections import deque
from types import SimpleNamespace

import pytest

from broker.errors import ConnectionLimitError
from broker.handler import DeviceHandler
from broker.limits import ConnectionLimits


class _Transport:
    def __init__(self) -> None:
        self.unread = 0

    def get_write_buffer_size(self) -> int:
        return self.unread


def _handler(limits: ConnectionLimits) -> tuple[DeviceHandler, _Transport]:
    transport = _Transport()
    handler = DeviceHandler.__new__(DeviceHandler)
    handler.gateway = SimpleNamespace(limits=limits)  # type: ignore[assignment]
    handler.writer = SimpleNamespace(_writer=SimpleNamespace(transport=transport))  # type: ignore[assignment]
    handler._acks = deque()
    return handler, transport


async def test_a_device_that_leaves_too_much_unread_is_dropped() -> None:
    handler, transport = _handler(ConnectionLimits(max_unread_bytes=1 << 20))
    transport.unread = 1 << 20
    await handler._within_limits(set())

    transport.unread += 1
    with pytest.raises(ConnectionLimitError, match="too slow a reader"):
        await handler._within_limits(set())


async def test_the_reader_waits_while_its_connection_holds_too_many_pending_acks() -> None:
    handler, _ = _handler(ConnectionLimits(max_pending_acks=2))
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    handler._acks.extend([(1, first), (2, second)])

    waiting = asyncio.create_task(handler._within_limits(set()))
    await asyncio.sleep(0.05)
    assert not waiting.done()

    first.set_result(None)
    handler._acks.popleft()  # what _release_acks does once the first is acknowledged
    await asyncio.wait_for(waiting, 2)
    assert not second.done()  # the shared future was waited on, never cancelled
