"""Reading object datastreams: member rows sharing a reading regrouped into objects.

An object reading is stored as one individual row per member at ``<prefix>/<member>``,
typed by the interface's mapping and sharing the reading's id and times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.store.readings import KEY, VALUE_COLUMNS, Window, json_value, key_params

if TYPE_CHECKING:
    from pipeline.store.clickhouse import ClickHouseStore

_MEMBERS = f"groupArray(tuple(member, {VALUE_COLUMNS}))"
_TIMES = "toUnixTimestamp64Micro(timestamp), toUnixTimestamp64Micro(reception_timestamp)"
# The path without its last segment ("" for a member of a root object).
_PREFIX = "substring(path, 1, length(path) - position(reverse(path), '/'))"


@dataclass(frozen=True, slots=True)
class ObjectSample:
    """One object reading: prefix, times (microseconds; no reception when downsampled), members and types."""

    prefix: str
    timestamp: int
    reception_timestamp: int | None
    values: dict[str, Any]
    types: dict[str, str]


def _object(prefix: str, timestamp: int, reception: int, members: list[tuple[Any, ...]]) -> ObjectSample:
    values = {m[0]: json_value(m[1], m[1:10]) for m in members}
    return ObjectSample(prefix or "/", timestamp, reception, values, {m[0]: m[1] for m in members})


async def path_objects(
    store: ClickHouseStore,
    *,
    realm: str,
    device_id: str,
    interface: str,
    prefix: str,
    window: Window,
    major: int | None = None,
) -> list[ObjectSample]:
    """Objects published at ``prefix`` in the window, ascending; the limit counts objects."""
    under = "/" + prefix.strip("/")
    under = under if under == "/" else under + "/"
    params = {**key_params(realm, device_id, interface, major), "under": under}
    where = [KEY, "startsWith(path, {under:String})", *window.where(params)]
    order = window.order
    sql = (
        f"SELECT {_TIMES}, {_MEMBERS} FROM ("
        f"SELECT *, substring(path, length({{under:String}}) + 1) AS member "
        f"FROM {{db}}.individual_datastreams FINAL WHERE {' AND '.join(where)} AND position(member, '/') = 0"
        f") GROUP BY timestamp, reading_id, reception_timestamp "
        f"ORDER BY timestamp {order}, reading_id {order} {window.LIMIT}"
    )
    rows = await store.query(sql, params)
    objects = [_object(under.rstrip("/"), row[0], row[1], row[2]) for row in rows]
    if window.newest_first:
        objects.reverse()
    return objects


async def latest_objects(
    store: ClickHouseStore, *, realm: str, device_id: str, interface: str, major: int | None = None
) -> list[ObjectSample]:
    """The latest object at every prefix of a device's object interface."""
    params = key_params(realm, device_id, interface, major)
    sql = (
        f"SELECT prefix, {_TIMES}, groupArray(tuple(member, {VALUE_COLUMNS})) FROM ("
        f"SELECT *, {_PREFIX} AS prefix, substring(path, length(prefix) + 2) AS member "
        f"FROM {{db}}.individual_datastreams FINAL WHERE {KEY} AND (prefix, timestamp, reading_id) IN ("
        f"SELECT p, t.1, t.2 FROM (SELECT {_PREFIX} AS p, max((timestamp, reading_id)) AS t "
        f"FROM {{db}}.individual_datastreams FINAL WHERE {KEY} GROUP BY p))"
        ") GROUP BY prefix, timestamp, reading_id, reception_timestamp ORDER BY prefix"
    )
    return [_object(row[0], row[1], row[2], row[3]) for row in await store.query(sql, params)]
