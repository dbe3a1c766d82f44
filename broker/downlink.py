"""Downlink: values for devices on server-owned interfaces, followed from the downlink topic.

Every broker instance reads every downlink record (no consumer group) and
publishes it on the device's topic; only a broker holding that device's
session has a subscriber for it. A record past its expiry is not sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from broker.topics import DeviceIdentity
from pipeline import kafka
from schemas.records import RecordError, downlinks

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer

    from broker.interfaces import InterfaceCache
    from broker.server import HeadwaterBroker
    from pipeline.settings import KafkaSettings

log = logging.getLogger(__name__)


class DownlinkDelivery:
    """Publishes downlink records to the devices they name."""

    def __init__(
        self, settings: KafkaSettings, topic: str, interfaces: InterfaceCache, broker: HeadwaterBroker
    ) -> None:
        self._consumer: AIOKafkaConsumer = kafka.consumer(
            settings, topic, group_id=None, auto_offset_reset="latest"
        )
        self._interfaces = interfaces
        self._broker = broker
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        await self._consumer.seek_to_end()
        for partition in self._consumer.assignment():
            await self._consumer.position(partition)
        self._task = asyncio.create_task(self._run(), name="downlink")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    async def _run(self) -> None:
        async for message in self._consumer:
            try:
                await self.deliver(downlinks().decode(message.value or b""))
            except RecordError as exc:
                log.warning("skipped a downlink record at offset %d: %s", message.offset, exc)
            except Exception:  # one bad record must not stop delivery of the others
                log.exception("could not deliver the downlink record at offset %d", message.offset)

    async def deliver(self, record: dict[str, Any]) -> None:
        """Publish one downlink record on its device's topic."""
        expires_at = record.get("expires_at")
        if expires_at is not None and expires_at < time.time_ns() // 1000:
            log.info("dropping an expired downlink for %s/%s", record["realm"], record["device_id"])
            return
        identity = DeviceIdentity(record["realm"], record["device_id"])
        if record["retention"] == "discard" and not self._broker.is_connected(identity):
            log.info(
                "discarding a downlink for %s: offline, and its mapping keeps nothing", identity.base_topic
            )
            return
        compiled = self._interfaces.get(record["realm"], record["interface"])
        if compiled is None:
            log.warning("no interface %s in realm %s for a downlink", record["interface"], record["realm"])
            return
        payload = compiled.encode_bson(record["value"], record["timestamp"], path=record["path"])
        topic = f"{record['realm']}/{record['device_id']}/{record['interface']}{record['path']}"
        await self._broker.internal_message_broadcast(topic, payload, record["qos"])
