"""Headwater's own processes (``headwater worker``, ``broker``) on the test session's Tansu."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from pipeline.settings import KafkaSettings


def process_env(kafka_settings: KafkaSettings, data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a process sharing this session's Kafka; ``settings`` as ``HEADWATER_<KEY>``."""
    return (
        dict(os.environ)
        | {
            "HEADWATER_DATA_DIR": str(data_dir),
            "HEADWATER_KAFKA__BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
            "HEADWATER_KAFKA__TOPIC_PREFIX": kafka_settings.topic_prefix,
            "HEADWATER_KAFKA__INGEST_PARTITIONS": str(kafka_settings.ingest_partitions),
            "HEADWATER_KAFKA__IDEMPOTENCE": "false",
        }
        | {f"HEADWATER_{key.upper()}": value for key, value in settings.items()}
    )


def spawn(env: dict[str, str], log: Path, *command: str) -> subprocess.Popen[bytes]:
    """``python -m pipeline.cli <command>`` with its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", *command], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def healthy(client: httpx.AsyncClient) -> bool:
    """Whether the API behind ``client`` answers /health with 200."""
    try:
        return (await client.get("/health")).status_code == 200
    except httpx.HTTPError:
        return False
