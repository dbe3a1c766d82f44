"""Properties: the latest value per path, unset paths left out; purging what a device no longer keeps."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.store.columns import insert_columns
from pipeline.store.readings import KEY, VALUE_COLUMNS, json_value, key_params

if TYPE_CHECKING:
    from pipeline.store.clickhouse import ClickHouseStore
    from pipeline.store.shapes import ShapeLookup


@dataclass(frozen=True, slots=True)
class Property:
    """One set property: its path, JSON value and mapping type."""

    path: str
    value: Any
    value_type: str


async def property_values(
    store: ClickHouseStore,
    *,
    realm: str,
    device_id: str,
    interface: str,
    prefix: str = "/",
    major: int | None = None,
) -> list[Property]:
    """The set properties of a device's interface at ``prefix`` or under it, by path."""
    params = key_params(realm, device_id, interface, major)
    where = [KEY]
    prefix = "/" + prefix.strip("/")
    if prefix != "/":
        where.append("(path = {prefix:String} OR startsWith(path, {under:String}))")
        params |= {"prefix": prefix, "under": prefix + "/"}
    # FINAL collapses each path to its latest reception before WHERE drops the unset ones.
    sql = (
        f"SELECT path, {VALUE_COLUMNS}, unset FROM {{db}}.properties FINAL "
        f"WHERE {' AND '.join(where)} ORDER BY path"
    )
    rows = await store.query(sql, params)
    return [Property(row[0], json_value(row[1], row[1:10]), row[1]) for row in rows if not row[10]]


async def purge_properties(
    store: ClickHouseStore,
    shapes: ShapeLookup,
    *,
    realm: str,
    device_id: str,
    kept: set[str],
    device_owned: Callable[[str], bool],
    at_us: int,
) -> int:
    """Unset the device-owned properties set on a device that its purge list does not keep.

    ``kept`` holds ``interface/path`` entries (the path without its leading slash joined by
    ``/``, as devices send them). Returns how many properties were unset.
    """
    sql = (
        "SELECT interface, major, path, value_type FROM {db}.properties FINAL "
        "WHERE realm = {realm:String} AND device_id = {device:String} AND NOT unset"
    )
    rows = await store.query(sql, {"realm": realm, "device": device_id})
    dropped = [
        {
            "realm": realm,
            "device_id": device_id,
            "interface": interface,
            "major": major,
            "path": path,
            "value_type": value_type,
            "value": None,
            "timestamp": at_us,
            "reception_timestamp": at_us,
        }
        for interface, major, path, value_type in rows
        if device_owned(interface) and f"{interface}{path}" not in kept
    ]
    if dropped:
        batch = {
            "batch_id": f"purge-{realm}-{device_id}-{at_us}",
            "id_base": secrets.randbits(62),
            "readings": dropped,
        }
        columns = insert_columns([batch], shapes)
        await store.insert_properties(columns.properties)
    return len(dropped)
