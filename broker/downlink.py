"""Downlink: values for devices on server-owned interfaces, followed from the downlink topic.

Every broker instance reads every downlink record (no consumer group) and
publishes it on the device's topic; only a broker holding that device's
session has a subscriber for it. A record past its expiry is not sent.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from broker.topics import DeviceIdentity
from pipeline import kafka
from schemas.records import RecordError, downlinks

if TYPE_CHECKING:
    from broker.interfaces import InterfaceCache
    from broker.server import HeadwaterBroker
    from pipeline.settings import KafkaSettings

log = logging.getLogger(__name__)


class DownlinkDelivery(kafka.TopicFollower):
    """Publishes downlink records to the devices they name."""

    def __init__(
        self, settings: KafkaSettings, topic: str, interfaces: InterfaceCache, broker: HeadwaterBroker
    ) -> None:
        super().__init__(settings, topic, self._record)
        self._interfaces = interfaces
        self._broker = broker

    async def _record(self, data: bytes) -> None:
        try:
            record = downlinks().decode(data)
        except RecordError as exc:
            log.warning("skipped a downlink record: %s", exc)
            return
        await self.deliver(record)

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
