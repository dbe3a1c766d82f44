"""Real components for integration tests: Tansu on a free port, chDB in a temp dir, SQLite, PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from pipeline import ports, tansu
from pipeline.registry import Registry
from pipeline.settings import KafkaSettings
from pipeline.store.clickhouse import ClickHouseStore

POSTGRES_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Tansu broker for the whole session."""
    port = ports.free_port()
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    process = tansu.spawn("127.0.0.1", port, log)
    deadline = time.monotonic() + 20
    while not ports.accepts("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"Tansu did not start: {log.read_text()}")
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """Kafka settings with a topic prefix of this test's own."""
    return KafkaSettings(
        bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}",
        idempotence=False,
        ingest_partitions=4,
    )


@pytest.fixture(scope="session")
def chdb_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One chDB path per process (chDB allows no other); tests get their own databases in it."""
    return f"chdb://{tmp_path_factory.mktemp('chdb')}"


@pytest.fixture
async def store(chdb_url: str) -> AsyncIterator[ClickHouseStore]:
    async with ClickHouseStore(chdb_url, database=f"t_{uuid.uuid4().hex[:12]}") as opened:
        yield opened


def _postgres_reachable() -> bool:
    return ports.accepts("127.0.0.1", 5432)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """A database of this test session's own on the local PostgreSQL (dropped after), or None.

    Test sessions may run side by side (a developer's and CI's), so none uses a shared database.
    """
    if not _postgres_reachable():
        yield None
        return
    name = f"headwater_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    yield f"{POSTGRES_SERVER}/{name}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(statement: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def registry(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_database: str | None
) -> AsyncIterator[Registry]:
    """The registry on SQLite, and on PostgreSQL where a server answers on 127.0.0.1:5432."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"
    else:
        if postgres_database is None:
            if os.environ.get("HEADWATER_TEST_REQUIRE_POSTGRES"):
                pytest.fail(
                    "PostgreSQL is required (HEADWATER_TEST_REQUIRE_POSTGRES) but 127.0.0.1:5432 is closed"
                )
            pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
        assert postgres_database is not None
        url = postgres_database
        await _reset_postgres(url)
    async with Registry(url) as opened:
        yield opened


async def _reset_postgres(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from pipeline.registry.tables import metadata

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await engine.dispose()
