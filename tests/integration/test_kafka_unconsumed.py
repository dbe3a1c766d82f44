"""How many records a consumer group has yet to commit: what `headwater up` waits for before stopping."""

from __future__ import annotations

import uuid

from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from pipeline import kafka
from pipeline.settings import KafkaSettings


async def test_records_past_the_committed_offsets_are_counted(kafka_settings: KafkaSettings) -> None:
    topics = await kafka.ensure_topics(kafka_settings)
    group = f"g{uuid.uuid4().hex[:8]}"
    producer = kafka.producer(kafka_settings)
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topics.ingest, f"r{i}".encode(), partition=i % 2)
    finally:
        await producer.stop()

    assert await kafka.unconsumed(kafka_settings, group, topics.ingest) == 10  # nothing committed yet

    consumer = kafka.consumer(kafka_settings, group_id=group)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topics.ingest, 0)])
        await consumer.commit({TopicPartition(topics.ingest, 0): OffsetAndMetadata(4, "")})
    finally:
        await consumer.stop()

    assert await kafka.unconsumed(kafka_settings, group, topics.ingest) == 6
