"""Aggregates of a numeric path per time bucket, for one device or several (beyond Astarte).

Buckets are aligned on the epoch (``interval`` microseconds wide), computed in ClickHouse over
the deduplicated rows (FINAL), so a replayed batch never counts twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from pipeline.store.downsample import NUMERIC
from pipeline.store.readings import Window

if TYPE_CHECKING:
    from pipeline.store.clickhouse import ClickHouseStore

# Function name to its SQL over the value column ``v``; first and last follow (timestamp, reading_id).
FUNCTIONS: Final = {
    "avg": "avg(v)",
    "min": "min(v)",
    "max": "max(v)",
    "sum": "sum(v)",
    "count": "count()",
    "first": "argMin(v, (timestamp, reading_id))",
    "last": "argMax(v, (timestamp, reading_id))",
}


@dataclass(frozen=True, slots=True)
class Bucket:
    """One interval: its start (microseconds since the epoch), its device if split, the results."""

    start: int
    values: dict[str, Any]
    device_id: str | None = None


async def aggregate(
    store: ClickHouseStore,
    *,
    realm: str,
    devices: list[str],
    interface: str,
    major: int,
    path: str,
    value_type: str,
    window: Window,
    interval: int,
    functions: list[str],
    by_device: bool = False,
) -> list[Bucket]:
    """Buckets of ``interval`` microseconds in ascending time; the window's limit counts buckets.

    Without a lower bound the latest ``limit`` buckets are given, as path reads do.
    """
    params: dict[str, Any] = {
        "realm": realm,
        "devices": devices,
        "interface": interface,
        "major": major,
        "path": path,
        "step": interval,
    }
    where = [
        "realm = {realm:String}",
        "device_id IN {devices:Array(String)}",
        "interface = {interface:String}",
        "major = {major:UInt32}",
        "path = {path:String}",
        *window.where(params),
    ]
    split = ", device_id" if by_device else ""
    selected = ", ".join(FUNCTIONS[name] for name in functions)
    order = window.order
    sql = (
        "SELECT intDiv(toUnixTimestamp64Micro(timestamp), {step:Int64}) * {step:Int64} AS bucket"
        f"{split}, {selected} FROM ("
        f"SELECT timestamp, reading_id, device_id, {NUMERIC[value_type]} AS v "
        f"FROM {{db}}.individual_datastreams FINAL WHERE {' AND '.join(where)}"
        f") GROUP BY bucket{split} ORDER BY bucket {order}{split} {window.LIMIT}"
    )
    rows = await store.query(sql, params)
    skip = 2 if by_device else 1
    buckets = [
        Bucket(row[0], dict(zip(functions, row[skip:], strict=True)), row[1] if by_device else None)
        for row in rows
    ]
    if window.newest_first:
        buckets.reverse()
    return buckets
