"""Registry change notices on the registry topic: published by the API, followed by brokers and workers.

A notice names what changed; followers reload it from the registry, so a notice
carries no state that could disagree with the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pipeline import kafka
from schemas.records import RecordError, registry_changes

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from pipeline.settings import KafkaSettings

log = logging.getLogger(__name__)

OnChange = Callable[[str, str, str], Awaitable[None]]


async def announce(producer: AIOKafkaProducer, topic: str, kind: str, realm: str, name: str = "") -> None:
    """Tell every follower that ``kind`` ``realm``/``name`` changed."""
    record = registry_changes().encode(
        {"kind": kind, "realm": realm, "name": name, "changed_at": time.time_ns() // 1000}
    )
    await producer.send_and_wait(topic, record, key=f"{kind}/{realm}/{name}".encode())


class ChangeFollower:
    """Follows the registry topic from its end and calls ``on_change(kind, realm, name)`` for each notice.

    Start it before loading the registry, so nothing changed in between is missed.
    """

    def __init__(self, settings: KafkaSettings, topic: str, on_change: OnChange) -> None:
        self._consumer: AIOKafkaConsumer = kafka.consumer(
            settings, topic, group_id=None, auto_offset_reset="latest"
        )
        self._on_change = on_change
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        await self._consumer.seek_to_end()
        for partition in self._consumer.assignment():
            await self._consumer.position(partition)
        self._task = asyncio.create_task(self._run(), name="registry-changes")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    async def _run(self) -> None:
        async for message in self._consumer:
            try:
                change = registry_changes().decode(message.value or b"")
                await self._on_change(change["kind"], change["realm"], change["name"])
            except RecordError as exc:
                log.warning("skipped a registry notice at offset %d: %s", message.offset, exc)
            except Exception:  # a failed reload must not stop following; the next notice retries
                log.exception("could not apply registry notice at offset %d", message.offset)
