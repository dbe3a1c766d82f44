"""Reading stored values back in Astarte's shapes: SQL in, JSON-ready values out."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.store.clickhouse import ClickHouseStore

_VALUE_COLUMNS = (
    "value_type, double_value, long_value, bool_value, string_value, "
    "double_array, long_array, bool_array, string_array"
)
_TIMES = "toUnixTimestamp64Micro(timestamp), toUnixTimestamp64Micro(reception_timestamp)"
_KEY = "realm = {realm:String} AND device_id = {device:String} AND interface = {interface:String}"

MAX_LIMIT = 10_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Sample:
    """One stored value with its times (microseconds since the epoch)."""

    path: str
    value: Any
    timestamp: int
    reception_timestamp: int

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "timestamp": iso_time(self.timestamp),
            "reception_timestamp": iso_time(self.reception_timestamp),
        }


def iso_time(micros: int) -> str:
    """Astarte's timestamp form: ISO 8601 in UTC with milliseconds and a ``Z``."""
    moment = EPOCH + timedelta(microseconds=micros)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def json_value(value_type: str, row: tuple[Any, ...]) -> Any:
    """The JSON form of a stored value, from the value columns of a row."""
    _, double, long, boolean, string, double_array, long_array, bool_array, string_array = row
    match value_type:
        case "double":
            return double
        case "integer" | "longinteger":
            return long
        case "boolean":
            return boolean
        case "string":
            return _text(string)
        case "binaryblob":
            return base64.b64encode(_raw(string)).decode()
        case "datetime":
            return iso_time(long)
        case "doublearray":
            return list(double_array)
        case "integerarray" | "longintegerarray":
            return list(long_array)
        case "booleanarray":
            return list(bool_array)
        case "stringarray":
            return [_text(s) for s in string_array]
        case "binaryblobarray":
            return [base64.b64encode(_raw(s)).decode() for s in string_array]
        case "datetimearray":
            return [iso_time(v) for v in long_array]
    return None


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _raw(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")


def _sample(row: tuple[Any, ...]) -> Sample:
    path, value_type = row[0], row[1]
    return Sample(path, json_value(value_type, row[1:10]), row[10], row[11])


async def path_samples(
    store: ClickHouseStore,
    *,
    realm: str,
    device_id: str,
    interface: str,
    path: str,
    since: int | None = None,
    since_after: int | None = None,
    to: int | None = None,
    limit: int = MAX_LIMIT,
) -> list[Sample]:
    """Values of one path in ascending time; with a limit and no lower bound, the latest ones."""
    where = [_KEY, "path = {path:String}"]
    params: dict[str, Any] = {
        "realm": realm,
        "device": device_id,
        "interface": interface,
        "path": path,
        "limit": limit,
    }
    if since is not None:
        where.append("timestamp >= fromUnixTimestamp64Micro({since:Int64})")
        params["since"] = since
    if since_after is not None:
        where.append("timestamp > fromUnixTimestamp64Micro({since_after:Int64})")
        params["since_after"] = since_after
    if to is not None:
        where.append("timestamp < fromUnixTimestamp64Micro({to:Int64})")
        params["to"] = to
    # Without a lower bound take the newest `limit` values (not Astarte's #2075, which takes the oldest).
    newest_first = since is None and since_after is None
    order = "DESC" if newest_first else "ASC"
    sql = (
        f"SELECT path, {_VALUE_COLUMNS}, {_TIMES} FROM {{db}}.individual_datastreams FINAL "
        f"WHERE {' AND '.join(where)} ORDER BY timestamp {order}, reading_id {order} LIMIT {{limit:UInt32}}"
    )
    samples = [_sample(row) for row in await store.query(sql, params)]
    if newest_first:
        samples.reverse()
    return samples


async def latest_samples(
    store: ClickHouseStore, *, realm: str, device_id: str, interface: str
) -> list[Sample]:
    """The latest value of every path of one device's interface."""
    sql = (
        f"SELECT path, {_VALUE_COLUMNS}, {_TIMES} FROM {{db}}.individual_datastreams FINAL "
        f"WHERE {_KEY} ORDER BY path, timestamp DESC, reading_id DESC LIMIT 1 BY path"
    )
    params = {"realm": realm, "device": device_id, "interface": interface}
    return [_sample(row) for row in await store.query(sql, params)]
