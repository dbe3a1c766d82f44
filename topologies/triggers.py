"""Trigger evaluation: ingest batches and device events in, TriggerEvent records out.

Each reading is looked up in the ``TriggerIndex`` (its cost does not grow with
triggers that cannot match it; a realm without triggers costs one lookup). Both
reading phases are evaluated on arrival; ``incoming`` events are sent at once,
``stored`` ones (value_stored, path_created, ...) once the persist sink stored
the record (``Watermarks``), so the value is queryable when the webhook comes. The
last value of a path is kept only where some trigger compares with it, in the
``LastValues`` of the record's partition, whose changes go to the trigger-state
topic and are read back when faust assigns the partition. An input record is
acked only once every trigger event and state change it produced was
acknowledged by Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from pipeline import metrics
from schemas.records import RecordError, device_events, ingest_batches, trigger_events
from schemas.trigger_conditions import DeviceTriggerOn
from schemas.trigger_index import ReadingPhase
from schemas.trigger_records import data_record, device_record

if TYPE_CHECKING:
    import faust
    from aiokafka import AIOKafkaProducer
    from faust.types import StreamT

    from topologies.catalog import TriggerCatalog
    from topologies.last_values import Key, LastValues, Partition
    from topologies.watermarks import Watermarks

log = logging.getLogger(__name__)

_DEVICE_KINDS = frozenset(kind.value for kind in DeviceTriggerOn)


class TriggerTopology:
    """The evaluation agents (readings and device events), registered on a faust app."""

    def __init__(
        self,
        app: faust.App,
        catalog: TriggerCatalog,
        producer: AIOKafkaProducer,
        *,
        ingest_topic: str,
        device_events_topic: str,
        trigger_events_topic: str,
        last_values: LastValues | None = None,
        stored: Watermarks | None = None,
    ) -> None:
        self._catalog = catalog
        self._producer = producer
        self._out = trigger_events_topic
        self._ingest = ingest_batches()
        self._events = device_events()
        self._codec = trigger_events()
        self._state = last_values
        # Without a LastValues, last values live in this process only.
        self._memory: dict[int, Partition] = {}
        self._changed: list[tuple[Key, Any]] = []
        self._stored = stored
        self._after_store: list[dict[str, Any]] = []
        if last_values is not None:
            last_values.follow(app, ingest_topic)
        readings = app.topic(ingest_topic, value_serializer="raw", key_serializer="raw")
        events = app.topic(device_events_topic, value_serializer="raw", key_serializer="raw")
        app.agent(readings, name="trigger-readings")(self._readings_agent)
        app.agent(events, name="trigger-device-events")(self._events_agent)

    async def _readings_agent(self, stream: StreamT[Any]) -> None:
        # noack(): a batch is acked only once the events it fired are in Kafka.
        manual: Any = stream.noack()  # type: ignore[attr-defined]
        async with _InOrderAcks(manual) as acks:
            async for event in manual.events():
                try:
                    batch = self._ingest.decode(event.value)
                except RecordError as exc:
                    log.error("trigger evaluation skips an undecodable ingest record: %s", exc)
                    records = []
                else:
                    records = self.evaluate_batch(batch, await self._last_values(event.message.partition))
                pending = await self._send(records)
                if self._after_store:
                    later, self._after_store = self._after_store, []
                    if self._stored is not None:  # the persist sink stores this record first
                        await self._stored.wait(event.message.tp, event.message.offset)
                    pending += await self._send(later)
                if self._changed:
                    changed, self._changed = self._changed, []
                    if self._state is not None:
                        pending += await self._state.publish(changed, event.message.partition)
                await acks.put(event, pending)

    async def _events_agent(self, stream: StreamT[Any]) -> None:
        manual: Any = stream.noack()  # type: ignore[attr-defined]
        async with _InOrderAcks(manual) as acks:
            async for event in manual.events():
                try:
                    record = self._events.decode(event.value)
                except RecordError as exc:
                    log.error("trigger evaluation skips an undecodable device event: %s", exc)
                    records = []
                else:
                    records = self.evaluate_device_event(record)
                await acks.put(event, await self._send(records))

    async def _last_values(self, partition: int) -> Partition:
        if self._state is not None:
            return await self._state.of(partition)
        return self._memory.setdefault(partition, {})

    def evaluate_batch(self, batch: dict[str, Any], last: Partition) -> list[dict[str, Any]]:
        """The incoming-phase TriggerEvent records an ingest batch fires (the stored-phase ones are kept
        for after the insert), updating ``last``, the kept last values of the batch's partition."""
        catalog, index = self._catalog, self._catalog.index
        out: list[dict[str, Any]] = []
        now_us = time.time_ns() // 1000
        for i, reading in enumerate(batch["readings"]):
            realm = reading["realm"]
            if not catalog.has_triggers(realm):
                continue
            device_id, interface, major, path = (
                reading["device_id"],
                reading["interface"],
                reading["major"],
                reading["path"],
            )
            key = (realm, device_id, interface, major, path)
            groups = catalog.groups_of(realm, device_id)
            previous = last.get(key)
            value = reading["value"]
            for phase, fired in ((ReadingPhase.INCOMING, out), (ReadingPhase.STORED, self._after_store)):
                for trigger in index.matches_for_reading(
                    realm, device_id, groups, interface, major, path, value, previous, phase
                ):
                    fired.append(
                        data_record(
                            event_id=f"{batch['batch_id']}/{i}/{trigger.name}",
                            realm=realm,
                            trigger_name=trigger.name,
                            policy=trigger.policy,
                            event_type=trigger.event_type,
                            reading=reading,
                            previous_value=previous,
                            now_us=now_us,
                        )
                    )
            if index.needs_previous_value(
                realm, device_id, groups, interface=interface, major=major, path=path
            ):
                if value is None:
                    if last.pop(key, None) is not None:
                        self._changed.append((key, None))
                elif previous != value:
                    last[key] = value
                    self._changed.append((key, value))
            elif previous is not None:
                last.pop(key, None)
                self._changed.append((key, None))
        return out

    def evaluate_device_event(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The TriggerEvent records a device event fires."""
        realm, kind = record["realm"], record["type"]
        if kind not in _DEVICE_KINDS or not self._catalog.has_triggers(realm):
            return []
        now_us = time.time_ns() // 1000
        return [
            device_record(
                event_id=f"{realm}/{record['device_id']}/{kind}/{record['timestamp']}/{trigger.name}",
                realm=realm,
                trigger_name=trigger.name,
                policy=trigger.policy,
                device_event_record=record,
                now_us=now_us,
            )
            for trigger in self._catalog.index.matches_for_device_event(
                realm, record["device_id"], self._catalog.groups_of(realm, record["device_id"]), kind
            )
        ]

    async def _send(self, records: list[dict[str, Any]]) -> list[asyncio.Future[Any]]:
        """Queue the records with the producer (in order); the futures resolve when Kafka has them."""
        pending = [
            await self._producer.send(
                self._out,
                self._codec.encode(record),
                key=f"{record['realm']}/{record['trigger_name']}".encode(),
            )
            for record in records
        ]
        for record in records:
            metrics.triggers_fired.labels(record["event_type"]).inc()
        return pending


class _InOrderAcks:
    """Acks input events in order once Kafka acknowledged what each produced.

    Evaluation goes on while earlier produces are in flight (a produce round trip
    per input record would cap the rate); at most ``limit`` events wait.
    """

    def __init__(self, stream: Any, limit: int = 1000) -> None:
        self._stream = stream
        self._queue: asyncio.Queue[tuple[Any, list[asyncio.Future[Any]]]] = asyncio.Queue(limit)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> _InOrderAcks:
        self._task = asyncio.create_task(self._run(), name="trigger evaluation acks")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def put(self, event: Any, pending: list[asyncio.Future[Any]]) -> None:
        await self._queue.put((event, pending))

    async def _run(self) -> None:
        while True:
            event, pending = await self._queue.get()
            try:
                await asyncio.gather(*pending)
            except Exception:  # left unacked: its offset is not committed, a restart redoes it
                log.exception(
                    "trigger events of %s@%d were not produced", event.message.tp, event.message.offset
                )
                continue
            await self._stream.ack(event)
