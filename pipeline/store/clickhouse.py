"""The ClickHouse adapter: one code path for embedded chDB and a ClickHouse server.

chDB allows one process per data path and its client is not thread-safe, so
every call runs on this store's own single thread, off the event loop. Analysts'
SQL runs in ``sql_lane`` instead, on threads and clients of its own, so that the
ingest path and the API's reads never wait behind it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import struct
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, DataError

from pipeline.errors import StoreError, StoreRejectedError
from pipeline.store.migrations import (
    DEAD_LETTER_COLUMNS,
    EVENT_COLUMNS,
    INDIVIDUAL_COLUMNS,
    MIGRATIONS,
    PROPERTY_COLUMNS,
)
from pipeline.store.sqllane import SqlLane

log = logging.getLogger(__name__)
T = TypeVar("T")

# ClickHouse error codes that say the data itself is wrong (a retry sends the same data again):
# CANNOT_PARSE_TEXT, CANNOT_PARSE_INPUT_ASSERTION_FAILED, BAD_ARGUMENTS, CANNOT_PARSE_DATE,
# CANNOT_PARSE_DATETIME, TYPE_MISMATCH, ARGUMENT_OUT_OF_BOUND, CANNOT_CONVERT_TYPE,
# CANNOT_PARSE_NUMBER, INCORRECT_DATA, TOO_LARGE_STRING_SIZE, VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE,
# DECIMAL_OVERFLOW. Any other server error may be the server's state (parts, memory, replicas,
# a table being altered) and is retried.
DATA_ERROR_CODES = frozenset({6, 27, 36, 38, 41, 53, 69, 70, 72, 117, 131, 321, 407})
# What clickhouse-connect raises when it cannot serialize a value into its column's type.
SERIALIZE_ERRORS = (ValueError, TypeError, OverflowError, struct.error)


def store_error(exc: Exception, where: str) -> StoreError:
    """The store's error for a client failure: rejected (permanent) when the data is at fault."""
    rejected = isinstance(exc, (*SERIALIZE_ERRORS, DataError)) or (
        isinstance(exc, DatabaseError) and getattr(exc, "code", None) in DATA_ERROR_CODES
    )
    kind = StoreRejectedError if rejected else StoreError
    return kind(f"ClickHouse at {where}: {exc}")


class ClickHouseStore:
    """Owns the ClickHouse client; ``async with ClickHouseStore(url)`` connects and migrates."""

    def __init__(
        self,
        url: str,
        *,
        database: str = "headwater",
        username: str = "default",
        password: str = "",
        sql_lanes: int = 2,
    ) -> None:
        self.url = url
        self.database = database
        self._username = username
        self._password = password
        self._client: Any = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self.sql_lane = SqlLane(self._new_client, size=sql_lanes, where=self._where())

    @property
    def embedded(self) -> bool:
        return self.url.startswith("chdb:")

    async def start(self) -> None:
        await self._run(self._connect_and_migrate)

    async def stop(self) -> None:
        await asyncio.to_thread(self.sql_lane.stop)
        if self._client is not None:
            await self._run(self._client.close)
            self._client = None
        self._executor.shutdown(wait=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
        except (ClickHouseError, *SERIALIZE_ERRORS) as exc:
            raise store_error(exc, self._where()) from exc

    def _where(self) -> str:
        return self.url.split("@")[-1]

    def _new_client(self) -> Any:
        if self.embedded:
            return clickhouse_connect.get_client(dsn=self.url)
        return clickhouse_connect.get_client(dsn=self.url, username=self._username, password=self._password)

    def _connect_and_migrate(self) -> None:
        if self.embedded:
            Path(self.url.removeprefix("chdb://")).mkdir(parents=True, exist_ok=True)
        client = self._new_client()
        client.command(f"CREATE DATABASE IF NOT EXISTS {self.database}")
        client.command(
            f"CREATE TABLE IF NOT EXISTS {self.database}.schema_migrations "
            "(version UInt32, applied_at DateTime64(3) DEFAULT now64(3)) ENGINE = MergeTree ORDER BY version"
        )
        applied = {
            row[0]
            for row in client.query(f"SELECT version FROM {self.database}.schema_migrations").result_rows
        }
        for version, statements in MIGRATIONS:
            if version in applied:
                continue
            for statement in statements:
                client.command(statement.format(db=self.database))
            client.insert(f"{self.database}.schema_migrations", [[version]], column_names=["version"])
            log.info("applied ClickHouse migration %d", version)
        self._client = client

    # writes

    async def insert_individual(self, columns: list[list[Any]]) -> None:
        """Insert column lists in ``INDIVIDUAL_COLUMNS`` order."""
        await self._insert("individual_datastreams", columns, INDIVIDUAL_COLUMNS)

    async def insert_properties(self, columns: list[list[Any]]) -> None:
        """Insert column lists in ``PROPERTY_COLUMNS`` order."""
        await self._insert("properties", columns, PROPERTY_COLUMNS)

    async def insert_device_events(self, columns: list[list[Any]]) -> None:
        """Insert column lists in ``EVENT_COLUMNS`` order."""
        await self._insert("device_events", columns, EVENT_COLUMNS)

    async def insert_dead_letters(self, columns: list[list[Any]]) -> None:
        """Insert column lists in ``DEAD_LETTER_COLUMNS`` order."""
        await self._insert("dead_letters", columns, DEAD_LETTER_COLUMNS)

    async def _insert(self, table: str, columns: list[list[Any]], names: Sequence[str]) -> None:
        await self._run(
            self._client.insert,
            f"{self.database}.{table}",
            columns,
            column_names=names,
            column_oriented=True,
        )

    async def command(self, sql: str, parameters: dict[str, Any]) -> None:
        """Run a parameterized statement that returns no rows (``{db}`` is the database)."""
        await self._run(self._client.command, sql.replace("{db}", self.database), parameters=parameters)

    # reads

    async def query(self, sql: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Rows of a parameterized query (``{name:Type}`` placeholders)."""
        result = await self._run(
            self._client.query, sql.replace("{db}", self.database), parameters=parameters
        )
        return list(result.result_rows)
