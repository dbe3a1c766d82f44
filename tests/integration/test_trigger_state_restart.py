"""value_change after a worker restart: the last values come back from the trigger-state topic."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from pipeline import kafka, ports
from pipeline.registry import Registry
from pipeline.registry.triggers import TriggerBook
from pipeline.settings import KafkaSettings
from schemas.interface import parse_interface
from schemas.records import ingest_batches
from tests.e2e.webhook_receiver import serve
from tests.helpers import eventually, random_device_id, reading

T0 = 1_700_000_000_000_000
MODE = {
    "interface_name": "org.acme.Mode",
    "version_major": 1,
    "version_minor": 0,
    "type": "properties",
    "ownership": "device",
    "mappings": [{"endpoint": "/%{zone}/mode", "type": "string", "allow_unset": True}],
}


def _spawn_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "worker", "--with-api"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _healthy(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/health")).status_code == 200
    except httpx.HTTPError:
        return False


async def test_value_change_remembers_the_last_value_across_a_worker_restart(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    receiver, server = serve()
    device = random_device_id()
    async with Registry(f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}") as registry:
        await registry.create_realm("acme")
        await registry.install_interface("acme", parse_interface(MODE))
        await registry.register_device("acme", device)
        await TriggerBook(registry).install_trigger(
            "acme",
            {
                "name": "changed",
                "action": {"http_url": receiver.url("/changed"), "http_method": "post"},
                "simple_triggers": [
                    {
                        "type": "data_trigger",
                        "on": "value_change",
                        "interface_name": "org.acme.Mode",
                        "interface_major": 1,
                        "match_path": "/%{zone}/mode",
                        "value_match_operator": "*",
                    }
                ],
            },
        )
    topics = await kafka.ensure_topics(kafka_settings)
    api_port = ports.free_port()
    env = dict(os.environ) | {
        "HEADWATER_DATA_DIR": str(tmp_path),
        "HEADWATER_KAFKA__BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "HEADWATER_KAFKA__TOPIC_PREFIX": kafka_settings.topic_prefix,
        "HEADWATER_KAFKA__INGEST_PARTITIONS": str(kafka_settings.ingest_partitions),
        "HEADWATER_KAFKA__IDEMPOTENCE": "false",
        "HEADWATER_API__PORT": str(api_port),
        "HEADWATER_WORKER__GROUP_ID": f"state-{uuid.uuid4().hex[:8]}",
    }
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=5)
    producer = kafka.producer(kafka_settings)
    await producer.start()
    sent = 0

    async def send(mode: str) -> None:
        nonlocal sent
        sent += 1
        record = ingest_batches().encode(
            {
                "batch_id": f"b{sent}",
                "id_base": 1_000 * sent,
                "broker_id": "test",
                "produced_at": T0,
                "readings": [
                    reading(
                        device,
                        "/kitchen/mode",
                        mode,
                        T0 + sent,
                        value_type="string",
                        interface="org.acme.Mode",
                    )
                    | {"major": 1}
                ],
            }
        )
        await producer.send_and_wait(topics.ingest, record, partition=0)

    worker = _spawn_worker(env, tmp_path / "worker.log")
    try:
        await eventually(lambda: _healthy(client), within=60)
        await send("eco")
        await asyncio.to_thread(receiver.wait, "/changed", 1, 30)
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        worker = _spawn_worker(env, tmp_path / "worker.log")
        await eventually(lambda: _healthy(client), within=60)
        await send("eco")  # the same value again: no change
        await send("boost")
        got = await asyncio.to_thread(receiver.wait, "/changed", 2, 30)
    finally:
        worker.terminate()
        worker.wait(15)
        await producer.stop()
        await client.aclose()
        server.shutdown()

    assert [(r.json()["event"]["old_value"], r.json()["event"]["new_value"]) for r in got] == [
        (None, "eco"),
        ("eco", "boost"),
    ]
