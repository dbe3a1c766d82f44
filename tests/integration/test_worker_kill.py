"""SIGKILL the worker mid-stream: after a restart every reading is stored, and none twice."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import httpx

from pipeline import kafka, ports
from pipeline.registry import Registry
from pipeline.settings import KafkaSettings
from schemas.interface import parse_interface
from schemas.records import ingest_batches
from tests.helpers import eventually, random_device_id, reading, temperature_interface
from tests.integration.processes import healthy, process_env, spawn

T0 = 1_700_000_000_000_000
RECORDS, PER_RECORD = 40, 250


async def _rows_persisted(client: httpx.AsyncClient) -> float:
    try:
        text = (await client.get("/metrics")).text
    except httpx.HTTPError:
        return 0.0
    lines = [line for line in text.splitlines() if line.startswith("headwater_rows_persisted_total ")]
    return float(lines[0].split()[1]) if lines else 0.0


async def test_sigkilled_worker_loses_nothing_and_duplicates_nothing(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    device = random_device_id()
    async with Registry(f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}") as registry:
        await registry.create_realm("acme")
        await registry.install_interface("acme", parse_interface(temperature_interface()))
        await registry.register_device("acme", device)
        key, _ = await registry.create_api_key("test", global_role="admin")
    topics = await kafka.ensure_topics(kafka_settings)
    api_port = ports.free_port()
    env = process_env(
        kafka_settings,
        tmp_path,
        api__port=str(api_port),
        worker__group_id=f"kill-{uuid.uuid4().hex[:8]}",
        worker__flush_rows="500",
    )
    log = tmp_path / "worker.log"
    client = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{api_port}", headers={"Authorization": f"Bearer {key}"}, timeout=5
    )
    producer = kafka.producer(kafka_settings)
    await producer.start()
    worker = spawn(env, log, "worker", "--with-api")
    try:
        await eventually(lambda: healthy(client), within=60)

        async def produce() -> None:
            for b in range(RECORDS):
                record = ingest_batches().encode(
                    {
                        "batch_id": f"b{b}",
                        "id_base": 1_000_000 * (b + 1),
                        "broker_id": "test",
                        "produced_at": T0,
                        "readings": [
                            reading(device, f"/s{b % 10}/value", float(i), T0 + b * PER_RECORD + i)
                            for i in range(PER_RECORD)
                        ],
                    }
                )
                await producer.send_and_wait(
                    topics.ingest, record, partition=b % kafka_settings.ingest_partitions
                )
                await asyncio.sleep(0.05)

        production = asyncio.create_task(produce())
        await eventually(lambda: _rows_persisted(client), within=30, every=0.01)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        killed_mid_stream = not production.done()
        worker = spawn(env, log, "worker", "--with-api")
        await production
        await eventually(lambda: healthy(client), within=60)

        async def complete() -> list[int] | None:
            counts = []
            for sensor in range(10):
                answer = await client.get(
                    f"/appengine/v1/acme/devices/{device}/interfaces/org.acme.Temperature/s{sensor}/value"
                )
                counts.append(len(answer.json()["data"]))
            return counts if sum(counts) >= RECORDS * PER_RECORD else None

        counts = await eventually(complete, within=60)
    finally:
        worker.terminate()
        worker.wait(15)
        await producer.stop()
        await client.aclose()

    assert killed_mid_stream
    assert counts == [RECORDS * PER_RECORD // 10] * 10
