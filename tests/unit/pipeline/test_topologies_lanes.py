"""Delivery lanes: prefetch_count bounds concurrency and keeps order, maximum_capacity drops the oldest."""

from __future__ import annotations

import asyncio

from topologies.lanes import DROPPED, Lanes


class Recorder:
    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.started: list[int] = []
        self.finished: list[tuple[int, str]] = []
        self.running = 0
        self.most = 0

    async def run(self, item: int) -> str:
        self.started.append(item)
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(self.delay)
        self.running -= 1
        return "delivered"

    async def finish(self, item: int, outcome: str) -> None:
        self.finished.append((item, outcome))


async def test_prefetch_one_delivers_in_order_one_at_a_time() -> None:
    seen = Recorder()
    lanes = Lanes(seen.run, seen.finish)
    for item in range(5):
        lanes.put("acme/@default", item, capacity=100, prefetch=1)

    await lanes.join()

    assert seen.started == [0, 1, 2, 3, 4] and seen.most == 1
    assert seen.finished == [(i, "delivered") for i in range(5)]


async def test_prefetch_bounds_the_deliveries_in_flight_per_lane() -> None:
    seen = Recorder()
    lanes = Lanes(seen.run, seen.finish)
    for item in range(12):
        lanes.put("acme/fast", item, capacity=100, prefetch=4)
    for item in range(100, 103):
        lanes.put("acme/other", item, capacity=100, prefetch=1)

    await lanes.join()

    assert seen.most == 5  # four in one lane, one in the other
    assert sorted(i for i, _ in seen.finished) == [*range(12), 100, 101, 102]


async def test_a_full_lane_drops_its_oldest_waiting_events() -> None:
    seen = Recorder(delay=0.05)
    lanes = Lanes(seen.run, seen.finish)
    for item in range(6):  # 0 starts at once; 1..5 wait in a lane of 3
        lanes.put("acme/small", item, capacity=3, prefetch=1)

    waiting = lanes.waiting("acme/small")
    await lanes.join()

    assert waiting == 3
    assert sorted(i for i, outcome in seen.finished if outcome == DROPPED) == [1, 2]
    assert seen.started == [0, 3, 4, 5]


async def test_room_waits_until_the_backlog_shrinks() -> None:
    seen = Recorder(delay=0.02)
    lanes = Lanes(seen.run, seen.finish)
    for item in range(4):
        lanes.put("acme/a", item, capacity=100, prefetch=1)

    await asyncio.wait_for(lanes.room(2), 5)

    assert lanes.backlog < 2 and len(seen.finished) >= 3
    await lanes.join()
