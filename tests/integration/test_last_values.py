"""LastValues on a real Kafka: each owned partition is read back from the trigger-state topic."""

from __future__ import annotations

import asyncio
from typing import Any

from pipeline import kafka
from pipeline.settings import KafkaSettings
from topologies.last_values import Key, LastValues

KITCHEN: Key = ("acme", "dev-a", "org.acme.Mode", 1, "/kitchen/mode")
HALL: Key = ("acme", "dev-b", "org.acme.Mode", 1, "/hall/mode")


async def change(owner: LastValues, partition: int, key: Key, value: Any) -> None:
    """What the evaluation does for one changed path: keep it, publish it, wait for Kafka."""
    values = await owner.of(partition)
    if value is None:
        values.pop(key, None)
    else:
        values[key] = value
    await asyncio.gather(*await owner.publish([(key, value)], partition))


async def test_a_partition_that_comes_back_is_read_again_with_what_its_other_owner_wrote(
    kafka_settings: KafkaSettings,
) -> None:
    topics = await kafka.ensure_topics(kafka_settings)
    producer = kafka.producer(kafka_settings)
    await producer.start()
    first = LastValues(producer, kafka_settings, topics.trigger_state)
    second = LastValues(producer, kafka_settings, topics.trigger_state)
    fresh = LastValues(producer, kafka_settings, topics.trigger_state)  # a restarted worker
    try:
        first.assign({0, 1})
        await change(first, 0, KITCHEN, "eco")
        await change(first, 1, HALL, "eco")
        first.assign({0})  # a rebalance: partition 1 moves to the second worker
        second.assign({1})
        moved = dict(await second.of(1))
        await change(second, 1, HALL, "boost")
        await change(second, 1, KITCHEN, b"\x00blob")
        await change(second, 1, KITCHEN, None)  # forgotten: a tombstone
        second.assign(set())
        first.assign({0, 1})  # and back
        back = await first.of(1)
        kept = await first.of(0)
        restarted = {p: dict(await fresh.of(p)) for p in (0, 1, 2)}
        owned = (first.owned, second.owned)
    finally:
        await producer.stop()
        for owner in (first, second, fresh):
            await owner.stop()

    assert moved == {HALL: "eco"}
    assert back == {HALL: "boost"}
    assert kept == {KITCHEN: "eco"}
    assert restarted == {0: {KITCHEN: "eco"}, 1: {HALL: "boost"}, 2: {}}
    assert owned == (frozenset({0, 1}), frozenset())
