"""The forwarder outlives a batch no record can hold: that batch fails, the others go to Kafka."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from broker.errors import ForwardError
from broker.forwarder import Forwarder


class Producer:
    """Acknowledges every record at once."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, int]] = []

    async def send(self, topic: str, value: bytes, partition: int) -> asyncio.Future[None]:
        self.records.append((topic, value, partition))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def reading(timestamp: int) -> dict[str, Any]:
    return {
        "realm": "r",
        "device_id": "d",
        "interface": "org.acme.Plain",
        "major": 1,
        "path": "/a/value",
        "value_type": "double",
        "value": 1.0,
        "timestamp": timestamp,
        "reception_timestamp": 1,
    }


async def test_an_unencodable_batch_fails_alone_and_the_forwarder_goes_on() -> None:
    producer = Producer()
    forwarder = Forwarder(producer, "hw.ingest", broker_id="b1")  # type: ignore[arg-type]

    poisoned = forwarder.offer(reading(2**70), partition=0)
    healthy = forwarder.offer(reading(5), partition=1)
    await forwarder.stop()  # flushes both batches

    with pytest.raises(ForwardError, match="not encodable"):
        await poisoned
    await asyncio.wait_for(healthy, 5)
    assert [partition for _, _, partition in producer.records] == [1]
    later = forwarder.offer(reading(6), partition=0)
    await forwarder.stop()
    await asyncio.wait_for(later, 5)
