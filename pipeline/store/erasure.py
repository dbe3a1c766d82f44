"""Erasing a realm's or a device's stored rows from every ClickHouse table that holds them.

Every table with a ``realm`` (and ``device_id``) column is found in
``system.columns``, so tables added by later migrations are covered without a
list to keep. Deletions are mutations waited for (``mutations_sync``): when
the call returns, queries no longer see the rows and the parts are rewritten
without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.store.clickhouse import ClickHouseStore

_TABLES = """
    SELECT table FROM system.columns
    WHERE database = {database:String} AND name IN {columns:Array(String)}
    GROUP BY table HAVING count() = length({columns:Array(String)})
"""


async def erase(store: ClickHouseStore, realm: str, device_id: str | None = None) -> list[str]:
    """Delete the realm's rows (only the device's when ``device_id`` is given); the tables touched."""
    columns = ["realm", "device_id"] if device_id is not None else ["realm"]
    tables = [
        str(row[0])
        for row in await store.query(_TABLES, {"database": store.database, "columns": columns})
        if row[0] != "schema_migrations"
    ]
    where = "realm = {realm:String}" + (" AND device_id = {device_id:String}" if device_id else "")
    for table in sorted(tables):
        await store.command(
            f"ALTER TABLE {{db}}.{table} DELETE WHERE {where} SETTINGS mutations_sync = 1",
            {"realm": realm, "device_id": device_id or ""},
        )
    return sorted(tables)
