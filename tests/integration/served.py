"""The whole API served over HTTP by uvicorn, in a thread with its own event loop, for sync clients."""

from __future__ import annotations

import asyncio
import queue
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from pipeline import kafka, ports
from pipeline.api import Platform, create_app
from pipeline.registry import Registry
from pipeline.settings import KafkaSettings
from pipeline.store.clickhouse import ClickHouseStore


@contextmanager
def served(data_dir: Path, chdb_url: str, kafka_settings: KafkaSettings) -> Iterator[tuple[str, str]]:
    """``(base url, admin key)`` of the app on a SQLite registry in ``data_dir``, chDB and Kafka."""
    port = ports.free_port()
    ready: queue.Queue[tuple[str, str] | BaseException] = queue.Queue()
    stop = threading.Event()

    async def main() -> None:
        topics = await kafka.ensure_topics(kafka_settings)
        async with (
            Registry(f"sqlite+aiosqlite:///{data_dir / 'registry.db'}") as registry,
            ClickHouseStore(chdb_url, database=f"t_{uuid.uuid4().hex[:12]}") as store,
        ):
            producer = kafka.producer(kafka_settings)
            await producer.start()
            try:
                platform = Platform(registry, store, producer, topics, "served", "mqtt://localhost:1883")
                platform.ready = True
                key, _ = await registry.create_api_key("admin", global_role="admin")
                config = uvicorn.Config(
                    create_app(platform), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
                )
                server = uvicorn.Server(config)
                serving = asyncio.create_task(server.serve())
                while not server.started:  # noqa: ASYNC110 (uvicorn has no event for it)
                    await asyncio.sleep(0.05)
                ready.put((f"http://127.0.0.1:{port}", key))
                await asyncio.to_thread(stop.wait)  # set from the test's thread
                server.should_exit = True
                await serving
            finally:
                await producer.stop()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            ready.put(exc)

    thread = threading.Thread(target=run, name="served-api", daemon=True)
    thread.start()
    got = ready.get(timeout=60)
    if isinstance(got, BaseException):
        raise RuntimeError("the API did not start") from got
    try:
        yield got
    finally:
        stop.set()
        thread.join(30)
