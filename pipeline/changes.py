"""Registry change notices on the registry topic: published by the API, followed by brokers and workers.

A notice names what changed; followers reload it from the registry, so a notice
carries no state that could disagree with the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pipeline import kafka
from schemas.records import RecordError, registry_changes

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

    from pipeline.settings import KafkaSettings

log = logging.getLogger(__name__)

OnChange = Callable[[str, str, str], Awaitable[None]]


async def announce(producer: AIOKafkaProducer, topic: str, kind: str, realm: str, name: str = "") -> None:
    """Tell every follower that ``kind`` ``realm``/``name`` changed."""
    record = registry_changes().encode(
        {"kind": kind, "realm": realm, "name": name, "changed_at": time.time_ns() // 1000}
    )
    await producer.send_and_wait(topic, record, key=f"{kind}/{realm}/{name}".encode())


class ChangeFollower(kafka.TopicFollower):
    """Follows the registry topic from its end and calls ``on_change(kind, realm, name)`` for each notice.

    Start it before loading the registry, so nothing changed in between is missed.
    """

    def __init__(self, settings: KafkaSettings, topic: str, on_change: OnChange) -> None:
        super().__init__(settings, topic, self._notice)
        self._on_change = on_change

    async def _notice(self, data: bytes) -> None:
        try:
            change = registry_changes().decode(data)
        except RecordError as exc:
            log.warning("skipped a registry notice: %s", exc)
            return
        await self._on_change(change["kind"], change["realm"], change["name"])
