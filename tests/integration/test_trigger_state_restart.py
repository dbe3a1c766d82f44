"""value_change after a worker restart: the last values come back from the trigger-state topic."""

from __future__ import annotations

import asyncio
import signal
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
from tests.integration.processes import healthy, process_env, spawn

T0 = 1_700_000_000_000_000
MODE = {
    "interface_name": "org.acme.Mode",
    "version_major": 1,
    "version_minor": 0,
    "type": "properties",
    "ownership": "device",
    "mappings": [{"endpoint": "/%{zone}/mode", "type": "string", "allow_unset": True}],
}


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
    env = process_env(
        kafka_settings, tmp_path, api__port=str(api_port), worker__group_id=f"state-{uuid.uuid4().hex[:8]}"
    )
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

    worker = spawn(env, tmp_path / "worker.log", "worker", "--with-api")
    try:
        await eventually(lambda: healthy(client), within=60)
        await send("eco")
        await asyncio.to_thread(receiver.wait, "/changed", 1, 30)
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        worker = spawn(env, tmp_path / "worker.log", "worker", "--with-api")
        await eventually(lambda: healthy(client), within=60)
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
