"""Reading a window of one path in chunks, for streamed exports (beyond Astarte).

Chunks follow the key ``(timestamp, reading_id, device_id)`` (keyset paging), so each query is
small, a long export holds no server cursor, and the store's single thread is never held for
the whole window.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from pipeline.store.readings import Window

if TYPE_CHECKING:
    from pipeline.store.clickhouse import ClickHouseStore

_BLOB = "convertCharset({}, 'latin1', 'utf8')"
# The stored column (or expression) holding each mapping type's value.
VALUE_SQL: Final = {
    "double": "double_value",
    "integer": "long_value",
    "longinteger": "long_value",
    "datetime": "long_value",
    "boolean": "bool_value",
    "string": "string_value",
    "binaryblob": _BLOB.format("string_value"),
    "doublearray": "double_array",
    "integerarray": "long_array",
    "longintegerarray": "long_array",
    "datetimearray": "long_array",
    "booleanarray": "bool_array",
    "stringarray": "string_array",
    "binaryblobarray": f"arrayMap(s -> {_BLOB.format('s')}, string_array)",
}
CHUNK: Final = 50_000


@dataclass(frozen=True, slots=True)
class Selection:
    """What an export reads: one path of an interface major, for one device or several."""

    realm: str
    devices: list[str]
    interface: str
    major: int
    path: str
    value_type: str


async def chunks(
    store: ClickHouseStore,
    selection: Selection,
    window: Window,
    *,
    total: int | None = None,
    chunk: int = CHUNK,
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """Rows ``(device_id, timestamp µs, reception µs, value)`` in ascending time, ``chunk`` at a time.

    ``total`` caps the rows given (None: the whole window).
    """
    params: dict[str, Any] = {
        "realm": selection.realm,
        "devices": selection.devices,
        "interface": selection.interface,
        "major": selection.major,
        "path": selection.path,
    }
    where = [
        "realm = {realm:String}",
        "device_id IN {devices:Array(String)}",
        "interface = {interface:String}",
        "major = {major:UInt32}",
        "path = {path:String}",
        *window.where(params),
    ]
    after: tuple[int, int, str] | None = None
    left = total
    while left is None or left > 0:
        size = chunk if left is None else min(chunk, left)
        conditions = list(where)
        if after is not None:
            conditions.append(
                "(timestamp, reading_id, device_id) > "
                "(fromUnixTimestamp64Micro({after_ts:Int64}, 'UTC'), "
                "{after_id:UInt64}, {after_device:String})"
            )
            params |= {"after_ts": after[0], "after_id": after[1], "after_device": after[2]}
        sql = (
            "SELECT device_id, toUnixTimestamp64Micro(timestamp), "
            "toUnixTimestamp64Micro(reception_timestamp), "
            f"{VALUE_SQL[selection.value_type]}, reading_id FROM {{db}}.individual_datastreams FINAL "
            f"WHERE {' AND '.join(conditions)} ORDER BY timestamp, reading_id, device_id LIMIT {size:d}"
        )
        rows = await store.query(sql, params)
        if not rows:
            return
        last = rows[-1]
        after = (last[1], last[4], last[0])
        yield [row[:4] for row in rows]
        if left is not None:
            left -= len(rows)
        if len(rows) < size:
            return
