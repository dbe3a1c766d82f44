"""The last value of each path some trigger compares with, per owned partition, kept across restarts.

value_change, value_change_applied, path_created and path_removed need the value a
path had before. The evaluation keeps it in memory for watched paths only, one dict
per ingest partition this worker owns, and writes every change to the trigger-state
topic (keyed by the path, on the device's partition; compacted on a production
Kafka). When faust assigns a partition (at start or in a rebalance) its dict is read
back from that topic partition, and the partition's records wait for it; a partition
taken away is forgotten, so one that comes back is read again with what its other
owner wrote meanwhile. The input record is acked only once its state changes are in
Kafka.

Why a topic rather than reading ClickHouse on a miss: persistence runs beside
evaluation and may already hold the very reading being evaluated (its "previous"
would be itself), datastreams have no "latest" row cheaper than a scan, and the
topic is per partition like the evaluation. A crash or a rebalance between a state
change and the commit of its record may replay that record with the newer value as
"previous" (its events, produced before the change, are then not sent again).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import bson
from aiokafka import TopicPartition

from pipeline import kafka
from topologies.sink import retry

if TYPE_CHECKING:
    import faust
    from aiokafka import AIOKafkaProducer

    from pipeline.settings import KafkaSettings

log = logging.getLogger(__name__)

Key = tuple[str, str, str, int, str]
Partition = dict[Key, Any]
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


class LastValues:
    """The kept last values of the owned partitions, with the topic that carries their changes."""

    def __init__(self, producer: AIOKafkaProducer, settings: KafkaSettings, topic: str) -> None:
        self._producer = producer
        self._settings = settings
        self._topic = topic
        self._owned: dict[int, asyncio.Task[dict[int, Partition]]] = {}

    def follow(self, app: faust.App, ingest_topic: str) -> None:
        """Own the ingest partitions faust assigns to ``app``, from its next rebalance on."""

        async def assigned(_app: Any, *args: Any, **_kw: Any) -> None:
            tps: set[TopicPartition] = args[0]  # faust sends the whole new assignment
            self.assign({tp.partition for tp in tps if tp.topic == ingest_topic})

        # mode's SignalHandlerT admits no function under mypy, even one of its exact shape.
        app.on_partitions_assigned.connect(assigned)  # type: ignore[arg-type]

    def assign(self, partitions: set[int]) -> None:
        """Forget the partitions not in ``partitions``; start reading back the new ones."""
        for gone in set(self._owned) - partitions:
            del self._owned[gone]
        new = sorted(partitions - set(self._owned))
        if new:
            task = asyncio.create_task(self._recover(new), name=f"trigger state of partitions {new}")
            task.add_done_callback(_log_failure)
            self._owned.update(dict.fromkeys(new, task))

    @property
    def owned(self) -> frozenset[int]:
        return frozenset(self._owned)

    async def stop(self) -> None:
        """Cancel the reads still under way."""
        pending = {task for task in self._owned.values() if not task.done()}
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def of(self, partition: int) -> Partition:
        """The last values of ``partition``, once read back (a record ahead of faust's signal starts it)."""
        if partition not in self._owned:
            self.assign({*self._owned, partition})
        return (await self._owned[partition])[partition]

    async def publish(self, changes: list[tuple[Key, Any]], partition: int) -> list[asyncio.Future[Any]]:
        """Queue the changes (on the device's partition); the futures resolve when Kafka has them."""
        return [
            await self._producer.send(
                self._topic, encode_value(value), key=encode_key(key), partition=partition
            )
            for key, value in changes
        ]

    async def _recover(self, partitions: list[int]) -> dict[int, Partition]:
        found: dict[int, Partition] = {}

        async def attempt() -> None:
            found.clear()
            found.update(await self._read(partitions))

        await retry(f"reading {self._topic} partitions {partitions}", attempt, every_error=True)
        count = sum(len(values) for values in found.values())
        log.info("trigger state: %d last values of partitions %s read back", count, partitions)
        return found

    async def _read(self, partitions: list[int]) -> dict[int, Partition]:
        """Read the partitions of the state topic from their start to their current end."""
        found: dict[int, Partition] = {p: {} for p in partitions}
        consumer = kafka.consumer(self._settings, group_id=None)
        await consumer.start()
        try:
            tps = [TopicPartition(self._topic, p) for p in partitions]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                for tp, records in (await consumer.getmany(*tps, timeout_ms=200)).items():
                    for record in records:
                        _apply(found[tp.partition], record.key, record.value)
        finally:
            await consumer.stop()
        return found


def _apply(values: Partition, raw_key: bytes | None, raw_value: bytes | None) -> None:
    if raw_key is None:
        return
    try:
        key = decode_key(raw_key)
    except (UnicodeDecodeError, ValueError):
        log.warning("trigger state: skipped a record with a malformed key")
        return
    if raw_value is None:
        values.pop(key, None)
        return
    try:
        values[key] = bson.decode(raw_value)["v"]
    except (bson.errors.InvalidBSON, KeyError):
        log.warning("trigger state: skipped a malformed value of %s", key)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("trigger state could not be read", exc_info=task.exception())
