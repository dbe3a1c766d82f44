"""Downsampling a numeric path with ClickHouse's ``largestTriangleThreeBuckets`` (LTTB)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from pipeline.store.readings import KEY, Sample, Window, key_params

if TYPE_CHECKING:
    from pipeline.store.clickhouse import ClickHouseStore

# The value column LTTB reads for each numeric mapping type.
NUMERIC: Final = {"double": "double_value", "integer": "long_value", "longinteger": "long_value"}


async def downsampled(
    store: ClickHouseStore,
    *,
    realm: str,
    device_id: str,
    interface: str,
    major: int | None = None,
    path: str,
    value_type: str,
    window: Window,
    points: int,
) -> list[Sample]:
    """At most ``points`` samples of the window's values chosen by LTTB, in ascending time.

    The window's limit applies first (as in Astarte: downsample what the query returned).
    """
    column = NUMERIC[value_type]
    params = {**key_params(realm, device_id, interface, major), "path": path, "points": points}
    where = [KEY, "path = {path:String}", *window.where(params)]
    order = window.order
    sql = (
        "SELECT largestTriangleThreeBuckets({points:UInt32})(x, y) FROM ("
        f"SELECT toUnixTimestamp64Micro(timestamp) AS x, {column} AS y "
        f"FROM {{db}}.individual_datastreams FINAL WHERE {' AND '.join(where)} "
        f"ORDER BY timestamp {order}, reading_id {order} {window.LIMIT})"
    )
    rows = await store.query(sql, params)
    points_xy: list[tuple[Any, Any]] = sorted(rows[0][0]) if rows else []
    cast = float if value_type == "double" else int
    return [Sample(path, cast(y), int(x), None, value_type) for x, y in points_xy]
