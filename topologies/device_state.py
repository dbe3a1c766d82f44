"""Device state: device events (connections, introspection, counters) kept in the registry.

Events of one device share a partition, so they apply in order; each is acked
only after the registry took it, and a registry that is away is retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from schemas.purge import PRODUCER_PURGE
from schemas.records import RecordError, device_events

if TYPE_CHECKING:
    import faust
    from aiokafka import AIOKafkaProducer
    from faust.types import StreamT

    from pipeline.registry.status import DeviceStatusBook

log = logging.getLogger(__name__)
MAX_BACKOFF = 5.0


class DeviceStateTopology:
    """The device-state agent, registered on a faust app."""

    def __init__(
        self,
        app: faust.App,
        book: DeviceStatusBook,
        events_topic: str,
        producer: AIOKafkaProducer | None = None,
        purge: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    ) -> None:
        self._book = book
        self._purge = purge
        self._producer = producer
        self._topic = events_topic
        self._codec = device_events()
        topic = app.topic(events_topic, value_serializer="raw", key_serializer="raw")
        app.agent(topic, name="device-state")(self._agent)

    async def _agent(self, stream: StreamT[Any]) -> None:
        # noack(): an event is acked only once the registry holds its effect.
        manual: Any = stream.noack()  # type: ignore[attr-defined]
        async for event in manual.events():
            try:
                record = self._codec.decode(event.value)
            except RecordError as exc:
                log.error("skipping an undecodable device event at offset %d: %s", event.message.offset, exc)
            else:
                for implied in await self._apply(record):
                    await self._publish(implied)
                if record["type"] == PRODUCER_PURGE and self._purge is not None:
                    await self._purge(record)
            await manual.ack(event)

    async def _publish(self, record: dict[str, Any]) -> None:
        # Implied events (an interface added, removed or updated) go back on the device-events topic,
        # where trigger evaluation sees them like any other device event.
        if self._producer is not None:
            key = f"{record['realm']}/{record['device_id']}".encode()
            await self._producer.send_and_wait(self._topic, self._codec.encode(record), key=key)

    async def _apply(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        backoff = 0.1
        while True:
            try:
                return await self._book.apply(record)
            except SQLAlchemyError as exc:
                log.warning("registry refused a device event, retrying in %.1f s: %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
