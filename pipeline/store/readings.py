"""Reading stored values back in Astarte's shapes: SQL in, JSON-ready values out."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from schemas.values import format_iso8601_us

if TYPE_CHECKING:
    from pipeline.store.clickhouse import ClickHouseStore

# Binary values come back as latin-1 text (one char per byte): the client would turn bytes that
# are not UTF-8 into hex. ``json_value`` re-encodes them.
_BLOB = "convertCharset({}, 'latin1', 'utf8')"
VALUE_COLUMNS = (
    "value_type, double_value, long_value, bool_value, "
    f"if(value_type = 'binaryblob', {_BLOB.format('string_value')}, string_value), "
    "double_array, long_array, bool_array, "
    f"if(value_type = 'binaryblobarray', arrayMap(s -> {_BLOB.format('s')}, string_array), string_array)"
)
TIMES = "toUnixTimestamp64Micro(timestamp), toUnixTimestamp64Micro(reception_timestamp)"
# A negative major means any major.
KEY = (
    "realm = {realm:String} AND device_id = {device:String} AND interface = {interface:String} "
    "AND ({major:Int64} < 0 OR major = {major:Int64})"
)

MAX_LIMIT = 10_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Sample:
    """One stored value (JSON form) with its times (microseconds since the epoch).

    A downsampled point has no reception time; ``value_type`` lets the API apply its options.
    """

    path: str
    value: Any
    timestamp: int
    reception_timestamp: int | None
    value_type: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {"value": self.value, "timestamp": iso_time(self.timestamp)}
        if self.reception_timestamp is not None:
            out["reception_timestamp"] = iso_time(self.reception_timestamp)
        return out


@dataclass(frozen=True, slots=True)
class Window:
    """A time window and a row limit; without a lower bound the limit takes the newest rows."""

    since: int | None = None
    since_after: int | None = None
    to: int | None = None
    limit: int = MAX_LIMIT
    offset: int = 0
    """Rows to skip; paging uses it to resume inside a run of equal timestamps."""

    @property
    def newest_first(self) -> bool:
        # Not Astarte's #2075, which takes the oldest.
        return self.since is None and self.since_after is None

    def where(self, params: dict[str, Any]) -> list[str]:
        """SQL conditions on ``timestamp``, adding their values to ``params``."""
        conditions = []
        for name, op in (("since", ">="), ("since_after", ">"), ("to", "<")):
            value = getattr(self, name)
            if value is not None:
                conditions.append(f"timestamp {op} fromUnixTimestamp64Micro({{{name}:Int64}})")
                params[name] = value
        params["limit"] = self.limit
        params["offset"] = self.offset
        return conditions

    LIMIT = "LIMIT {limit:UInt32} OFFSET {offset:UInt32}"

    @property
    def order(self) -> str:
        return "DESC" if self.newest_first else "ASC"


def iso_time(micros: int) -> str:
    """Astarte's timestamp form: ISO 8601 in UTC with milliseconds and a ``Z``."""
    try:
        moment = EPOCH + timedelta(microseconds=micros)
    except OverflowError:  # a time stored before validation bounded it: shown, never a 500
        return format_iso8601_us(micros, 3)
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
    return Sample(path, json_value(value_type, row[1:10]), row[10], row[11], value_type)


def key_params(realm: str, device_id: str, interface: str, major: int | None = None) -> dict[str, Any]:
    """Parameters of ``KEY``, the condition naming one device's interface (of one major, if given)."""
    return {
        "realm": realm,
        "device": device_id,
        "interface": interface,
        "major": -1 if major is None else major,
    }


async def path_samples(
    store: ClickHouseStore,
    *,
    realm: str,
    device_id: str,
    interface: str,
    path: str,
    major: int | None = None,
    since: int | None = None,
    since_after: int | None = None,
    to: int | None = None,
    limit: int = MAX_LIMIT,
    offset: int = 0,
) -> list[Sample]:
    """Values of one path in ascending time; with a limit and no lower bound, the latest ones."""
    window = Window(since, since_after, to, limit, offset)
    params = {**key_params(realm, device_id, interface, major), "path": path}
    where = [KEY, "path = {path:String}", *window.where(params)]
    order = window.order
    sql = (
        f"SELECT path, {VALUE_COLUMNS}, {TIMES} FROM {{db}}.individual_datastreams FINAL "
        f"WHERE {' AND '.join(where)} ORDER BY timestamp {order}, reading_id {order} {window.LIMIT}"
    )
    samples = [_sample(row) for row in await store.query(sql, params)]
    if window.newest_first:
        samples.reverse()
    return samples


async def latest_samples(
    store: ClickHouseStore, *, realm: str, device_id: str, interface: str, major: int | None = None
) -> list[Sample]:
    """The latest value of every path of one device's interface."""
    sql = (
        f"SELECT path, {VALUE_COLUMNS}, {TIMES} FROM {{db}}.individual_datastreams FINAL "
        f"WHERE {KEY} ORDER BY path, timestamp DESC, reading_id DESC LIMIT 1 BY path"
    )
    params = key_params(realm, device_id, interface, major)
    return [_sample(row) for row in await store.query(sql, params)]
