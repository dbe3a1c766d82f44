"""Reading properties: the latest value per path, unset paths left out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.store.readings import KEY, VALUE_COLUMNS, json_value, key_params

if TYPE_CHECKING:
    from pipeline.store.clickhouse import ClickHouseStore


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
