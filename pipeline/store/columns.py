"""Turning decoded ingest batches into the column lists of a ClickHouse insert (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.store.migrations import INDIVIDUAL_COLUMNS, PROPERTY_COLUMNS
from pipeline.store.shapes import Shape, ShapeLookup
from schemas.values import DATETIME_RANGE_US, TIMESTAMP_RANGE_US

_DOUBLE = frozenset({"double"})
_LONG = frozenset({"integer", "longinteger", "datetime"})
_BOOL = frozenset({"boolean"})
_STRING = frozenset({"string", "binaryblob"})
_DOUBLE_ARRAY = frozenset({"doublearray"})
_LONG_ARRAY = frozenset({"integerarray", "longintegerarray", "datetimearray"})
_BOOL_ARRAY = frozenset({"booleanarray"})
_STRING_ARRAY = frozenset({"stringarray", "binaryblobarray"})

# Exact value classes per scalar type (type(), not isinstance(): a bool is no integer here).
_EXACT: dict[str, frozenset[type]] = {
    **dict.fromkeys(_DOUBLE, frozenset({float, int})),
    **dict.fromkeys(_LONG, frozenset({int})),
    **dict.fromkeys(_BOOL, frozenset({bool})),
    "string": frozenset({str}),
    "binaryblob": frozenset({bytes}),
    "object": frozenset({dict}),
}
# Types whose values need only their class checked (the common case, kept to a dict lookup).
_PLAIN = {name: exact for name, exact in _EXACT.items() if name != "datetime"}
_PLAIN_ARRAYS = {f"{name}array": exact for name, exact in _PLAIN.items() if name != "object"}
# DateTime64 holds 1900-01-01 to 2299-12-31; ClickHouse takes other ticks silently and reads them
# back wrong. Datetime values live in Int64 columns, bounded by what readers can show (years 1-9999).
_LOW, _HIGH = TIMESTAMP_RANGE_US


def unstorable(reading: dict[str, Any]) -> str | None:
    """Why a decoded reading can never be stored as it is (None when it can): times, type, major.

    Run on every reading the worker decodes, so the usual scalar passes in a few lookups.
    """
    if (
        _LOW <= reading["timestamp"] < _HIGH
        and _LOW <= reading["reception_timestamp"] < _HIGH
        and 0 <= reading["major"] < 4_294_967_296
    ):
        value = reading["value"]
        if value is None or type(value) in _PLAIN.get(reading["value_type"], ()):
            return None
        items = _PLAIN_ARRAYS.get(reading["value_type"])
        if items is not None and type(value) is list and all(type(x) in items for x in value):
            return None
    return _why(reading)


def _why(reading: dict[str, Any]) -> str | None:
    for name in ("timestamp", "reception_timestamp"):
        if not _LOW <= reading[name] < _HIGH:
            return f"{name} {reading[name]} µs is outside 1900-01-01..2299-12-31"
    if not 0 <= reading["major"] < 2**32:
        return f"major {reading['major']} is not a version number"
    value, value_type = reading["value"], reading["value_type"]
    is_array = value_type.endswith("array")
    if is_array is not (type(value) is list):
        return f"a {type(value).__name__} is not a {value_type} value"
    exact = _EXACT.get(value_type.removesuffix("array"))
    if exact is None:
        return f"unknown value type {value_type!r}"
    for item in value if is_array else [value]:
        if type(item) not in exact:
            return f"a {type(item).__name__} is not a {value_type} value"
        if value_type.startswith("datetime") and not DATETIME_RANGE_US[0] <= item < DATETIME_RANGE_US[1]:
            return f"datetime value {item} µs is outside years 1-9999"
    return None


def _rows(
    batches: list[dict[str, Any]], shapes: ShapeLookup | None = None
) -> tuple[list[dict[str, Any]], list[int], list[dict[str, Any]], list[int]]:
    """Datastream rows and property rows with their stable ids (``reading_id``, else ``id_base + i``).

    An object reading spreads into one row per member, typed by the interface's mapping (a guess
    only when the interface is unknown) and keeping the reading's id (the path tells them
    apart). Datastream unsets are not time-series rows; property unsets are kept as unsets.
    """
    rows: list[dict[str, Any]] = []
    ids: list[int] = []
    props: list[dict[str, Any]] = []
    prop_ids: list[int] = []
    cache: dict[tuple[str, str, int], Shape | None] = {}
    for batch in batches:
        base = batch["id_base"]
        # A batch whose readings were sorted out keeps each reading's own id in ``ids``.
        kept: list[int] | None = batch.get("ids")
        for index, reading in enumerate(batch["readings"]):
            stable = reading.get("reading_id")
            row_id = stable if stable is not None else kept[index] if kept is not None else base + index
            shape = None
            if shapes is not None:
                key = (reading["realm"], reading["interface"], reading["major"])
                shape = cache[key] if key in cache else cache.setdefault(key, shapes(*key))
            if shape is not None and shape.properties:
                props.append(reading)
                prop_ids.append(row_id)
                continue
            value = reading["value"]
            if value is None:
                continue
            if reading["value_type"] != "object":
                rows.append(reading)
                ids.append(row_id)
                continue
            members = shape.member_types if shape is not None else {}
            for key_, member in value.items():
                if member is None:
                    continue
                rows.append(
                    {
                        **reading,
                        "path": f"{reading['path'].rstrip('/')}/{key_}",
                        "value_type": members.get(key_) or _guess_type(member),
                        "value": member,
                    }
                )
                ids.append(row_id)
    return rows, ids, props, prop_ids


def _guess_type(value: object) -> str:
    # Only for an object of an interface the registry no longer knows: canonical values tell the
    # family apart (arrays are homogeneous, so their first item tells theirs) except datetime,
    # which lands as a longinteger. Known interfaces give the mapping type.
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "longinteger"
    if isinstance(value, float):
        return "double"
    if isinstance(value, bytes):
        return "binaryblob"
    if isinstance(value, list):
        return _ARRAY_OF.get(_guess_type(value[0]), "doublearray") if value else "doublearray"
    return "string"


_ARRAY_OF = {
    "boolean": "booleanarray",
    "longinteger": "longintegerarray",
    "double": "doublearray",
    "binaryblob": "binaryblobarray",
    "string": "stringarray",
}


def _value_columns(types: list[str], values: list[Any]) -> list[list[Any]]:
    def pick(family: frozenset[str], default: Any) -> list[Any]:
        return [v if t in family else default for t, v in zip(types, values, strict=True)]

    return [
        pick(_DOUBLE, 0.0),
        pick(_LONG, 0),
        pick(_BOOL, False),
        [_raw(v) if t in _STRING else b"" for t, v in zip(types, values, strict=True)],
        pick(_DOUBLE_ARRAY, []),
        pick(_LONG_ARRAY, []),
        pick(_BOOL_ARRAY, []),
        [[_raw(x) for x in v] if t in _STRING_ARRAY else [] for t, v in zip(types, values, strict=True)],
    ]


def _raw(value: str | bytes) -> bytes:
    # clickhouse-connect writes a String column as text or as bytes, decided by its first value:
    # strings and blobs share the column, so every value goes as bytes.
    return value.encode() if isinstance(value, str) else value


def _individual(
    rows: list[dict[str, Any]], ids: list[int], shapes: ShapeLookup | None = None
) -> list[list[Any]]:
    types = [r["value_type"] for r in rows]
    columns = [
        [r["realm"] for r in rows],
        [r["device_id"] for r in rows],
        [r["interface"] for r in rows],
        [r["major"] for r in rows],
        [r["path"] for r in rows],
        types,
        [r["timestamp"] for r in rows],
        [r["reception_timestamp"] for r in rows],
        ids,
        *_value_columns(types, [r["value"] for r in rows]),
        _ttl_seconds(rows, shapes),
    ]
    assert len(columns) == len(INDIVIDUAL_COLUMNS)
    return columns


def _ttl_seconds(rows: list[dict[str, Any]], shapes: ShapeLookup | None) -> list[int]:
    """Each row's lifetime from its mapping's database_retention_ttl (0 keeps it forever)."""
    if shapes is None:
        return [0] * len(rows)
    retentions: dict[tuple[str, str, int], Any] = {}
    out: list[int] = []
    for row in rows:
        key = (row["realm"], row["interface"], row["major"])
        if key not in retentions:
            shape = shapes(*key)
            retentions[key] = shape.retention if shape is not None else None
        retention = retentions[key]
        out.append(retention.seconds(row["path"]) if retention is not None else 0)
    return out


def _properties(rows: list[dict[str, Any]], ids: list[int]) -> list[list[Any]]:
    types = [r["value_type"] for r in rows]
    values = [r["value"] for r in rows]
    columns = [
        [r["realm"] for r in rows],
        [r["device_id"] for r in rows],
        [r["interface"] for r in rows],
        [r["major"] for r in rows],
        [r["path"] for r in rows],
        types,
        [v is None for v in values],
        [r["reception_timestamp"] for r in rows],
        ids,
        # An unset fills no value column.
        *_value_columns([t if v is not None else "" for t, v in zip(types, values, strict=True)], values),
    ]
    assert len(columns) == len(PROPERTY_COLUMNS)
    return columns


@dataclass(frozen=True, slots=True)
class InsertColumns:
    """Column lists of one flush: datastream rows and property rows, with their counts."""

    individual: list[list[Any]]
    individual_rows: int
    properties: list[list[Any]]
    property_rows: int


def insert_columns(batches: list[dict[str, Any]], shapes: ShapeLookup | None) -> InsertColumns:
    """Split batches into individual-table and properties-table columns, typed by ``shapes``."""
    rows, ids, props, prop_ids = _rows(batches, shapes)
    return InsertColumns(_individual(rows, ids, shapes), len(rows), _properties(props, prop_ids), len(props))


def individual_columns(
    batches: list[dict[str, Any]], shapes: ShapeLookup | None = None
) -> tuple[list[list[Any]], int]:
    """Column lists (in ``INDIVIDUAL_COLUMNS`` order) for these batches, and the row count."""
    rows, ids, _, _ = _rows(batches, shapes)
    return _individual(rows, ids, shapes), len(rows)
