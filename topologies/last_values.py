"""The last value of each path some trigger compares with, kept across worker restarts.

value_change, value_change_applied, path_created and path_removed need the value a
path had before. The evaluation keeps it in memory for watched paths only, and every
change of it is also written to the trigger-state topic (keyed by the path, the
device's partition; compacted on a production Kafka); a starting worker reads that
topic to the end before it evaluates anything. The input record is acked only once
its state changes are in Kafka, so a replay after a crash starts from the state
that record left.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import bson
from aiokafka import TopicPartition

from pipeline import kafka

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

    from pipeline.settings import KafkaSettings

log = logging.getLogger(__name__)

Key = tuple[str, str, str, int, str]
_SEPARATOR = "\x00"


def encode_key(key: Key) -> bytes:
    realm, device_id, interface, major, path = key
    return _SEPARATOR.join((realm, device_id, interface, str(major), path)).encode()


def decode_key(raw: bytes) -> Key:
    realm, device_id, interface, major, path = raw.decode().split(_SEPARATOR)
    return realm, device_id, interface, int(major), path


def encode_value(value: Any) -> bytes | None:
    """A value as BSON (``{"v": value}``, blobs and datetimes included); None (forgotten) as a tombstone."""
    return None if value is None else bson.encode({"v": value})


class LastValues(dict[Key, Any]):
    """The kept last values, with the topic that carries their changes."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, partitions: int) -> None:
        super().__init__()
        self._producer = producer
        self._topic = topic
        self._partitions = max(1, partitions)

    async def recover(self, settings: KafkaSettings) -> int:
        """Read the state topic from its start to its current end; how many paths it restored."""
        consumer = kafka.consumer(settings, group_id=None)
        await consumer.start()
        try:
            partitions = [TopicPartition(self._topic, p) for p in range(self._partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        self._apply(record.key, record.value)
        finally:
            await consumer.stop()
        log.info("trigger state: %d last values recovered from %s", len(self), self._topic)
        return len(self)

    def _apply(self, raw_key: bytes | None, raw_value: bytes | None) -> None:
        if raw_key is None:
            return
        try:
            key = decode_key(raw_key)
        except (UnicodeDecodeError, ValueError):
            log.warning("trigger state: skipped a record with a malformed key")
            return
        if raw_value is None:
            self.pop(key, None)
        else:
            self[key] = bson.decode(raw_value)["v"]

    async def publish(self, changes: list[tuple[Key, Any]], partition: int) -> list[asyncio.Future[Any]]:
        """Queue the changes (on the device's partition); the futures resolve when Kafka has them."""
        return [
            await self._producer.send(
                self._topic, encode_value(value), key=encode_key(key), partition=partition
            )
            for key, value in changes
        ]
