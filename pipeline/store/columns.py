"""Turning decoded ingest batches into the column lists of a ClickHouse insert (pure)."""

from __future__ import annotations

from typing import Any

from pipeline.store.migrations import INDIVIDUAL_COLUMNS

_DOUBLE = frozenset({"double"})
_LONG = frozenset({"integer", "longinteger", "datetime"})
_STRING = frozenset({"string", "binaryblob"})
_DOUBLE_ARRAY = frozenset({"doublearray"})
_LONG_ARRAY = frozenset({"integerarray", "longintegerarray", "datetimearray"})
_STRING_ARRAY = frozenset({"stringarray", "binaryblobarray"})


def _rows(batches: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[int]]:
    """Storable readings with their stable ids: reading ``i`` of a batch is ``id_base + i``.

    An object reading spreads into one row per key, each keeping the reading's id (the path
    tells them apart). Unsets carry no value and are not time-series rows.
    """
    rows: list[dict[str, Any]] = []
    ids: list[int] = []
    for batch in batches:
        base = batch["id_base"]
        for index, reading in enumerate(batch["readings"]):
            value = reading["value"]
            if value is None:
                continue
            if reading["value_type"] != "object":
                rows.append(reading)
                ids.append(base + index)
                continue
            for key, member in value.items():
                if member is None:
                    continue
                rows.append(
                    {
                        **reading,
                        "path": f"{reading['path']}/{key}",
                        "value_type": _guess_type(member),
                        "value": member,
                    }
                )
                ids.append(base + index)
    return rows, ids


def _guess_type(value: object) -> str:
    # Object members carry no mapping type in the ingest record yet; canonical values tell the
    # family apart (arrays are homogeneous, so their first item tells theirs) except datetime,
    # which lands as a longinteger until objects get their own table.
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


def individual_columns(batches: list[dict[str, Any]]) -> tuple[list[list[Any]], int]:
    """Column lists (in ``INDIVIDUAL_COLUMNS`` order) for these batches, and the row count."""
    rows, ids = _rows(batches)
    types = [r["value_type"] for r in rows]
    values = [r["value"] for r in rows]

    def pick(family: frozenset[str], default: Any) -> list[Any]:
        return [v if t in family else default for t, v in zip(types, values, strict=True)]

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
        pick(_DOUBLE, 0.0),
        pick(_LONG, 0),
        [v if t == "boolean" else False for t, v in zip(types, values, strict=True)],
        [_raw(v) if t in _STRING else b"" for t, v in zip(types, values, strict=True)],
        pick(_DOUBLE_ARRAY, []),
        pick(_LONG_ARRAY, []),
        [v if t == "booleanarray" else [] for t, v in zip(types, values, strict=True)],
        [[_raw(x) for x in v] if t in _STRING_ARRAY else [] for t, v in zip(types, values, strict=True)],
    ]
    assert len(columns) == len(INDIVIDUAL_COLUMNS)
    return columns, len(rows)


def _raw(value: str | bytes) -> bytes:
    # clickhouse-connect writes a String column as text or as bytes, decided by its first value:
    # strings and blobs share the column, so every value goes as bytes.
    return value.encode() if isinstance(value, str) else value
