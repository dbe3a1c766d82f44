"""Ingest batches to ClickHouse insert columns: order, stable ids, value columns, unsets, objects."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.store.columns import individual_columns
from pipeline.store.migrations import INDIVIDUAL_COLUMNS

DEFAULTS: dict[str, Any] = {
    "double_value": 0.0,
    "long_value": 0,
    "bool_value": False,
    "string_value": b"",
    "double_array": [],
    "long_array": [],
    "bool_array": [],
    "string_array": [],
}


def reading(value_type: str, value: object, path: str = "/s/value", **fields: Any) -> dict[str, Any]:
    return {
        "realm": "acme",
        "device_id": "f0VMRgIBAQAAAAAAAAAAAA",
        "interface": "org.acme.Sensors",
        "major": 3,
        "path": path,
        "value_type": value_type,
        "value": value,
        "timestamp": 1_704_067_200_000_000,
        "reception_timestamp": 1_704_067_200_500_000,
        **fields,
    }


def batch(id_base: int, *readings: dict[str, Any]) -> dict[str, Any]:
    return {
        "batch_id": f"b{id_base}",
        "id_base": id_base,
        "broker_id": "b",
        "produced_at": 0,
        "readings": list(readings),
    }


def table(batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The insert as rows keyed by column name, checking the row count on the way."""
    columns, count = individual_columns(batches)
    assert len(columns) == len(INDIVIDUAL_COLUMNS)
    assert all(len(column) == count for column in columns)
    return [dict(zip(INDIVIDUAL_COLUMNS, row, strict=True)) for row in zip(*columns, strict=True)]


def test_columns_follow_individual_columns_order() -> None:
    r = reading("double", 21.5, timestamp=11, reception_timestamp=22)
    columns, count = individual_columns([batch(100, r)])

    assert count == 1
    assert [c[0] for c in columns] == [
        "acme",
        "f0VMRgIBAQAAAAAAAAAAAA",
        "org.acme.Sensors",
        3,
        "/s/value",
        "double",
        11,
        22,
        100,
        21.5,
        0,
        False,
        b"",
        [],
        [],
        [],
        [],
        0,
    ]
    assert INDIVIDUAL_COLUMNS[:9] == (
        "realm",
        "device_id",
        "interface",
        "major",
        "path",
        "value_type",
        "timestamp",
        "reception_timestamp",
        "reading_id",
    )


def test_no_batches_give_empty_columns() -> None:
    columns, count = individual_columns([])
    assert count == 0
    assert columns == [[] for _ in INDIVIDUAL_COLUMNS]


def stored(value: Any) -> Any:
    """How a value sits in its insert column: text goes as UTF-8 bytes (strings and blobs share columns)."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, list):
        return [stored(v) for v in value]
    return value


@pytest.mark.parametrize(
    ("value_type", "value", "column"),
    [
        ("double", 21.5, "double_value"),
        ("double", -0.5, "double_value"),
        ("integer", 7, "long_value"),
        ("longinteger", 2**62, "long_value"),
        ("datetime", 1_704_067_200_123_000, "long_value"),
        ("boolean", True, "bool_value"),
        ("string", "caf\u00e9", "string_value"),
        ("binaryblob", b"\x00\xff", "string_value"),
        ("doublearray", [1.5, 2.5], "double_array"),
        ("integerarray", [1, -2], "long_array"),
        ("longintegerarray", [2**40], "long_array"),
        ("datetimearray", [1, 2], "long_array"),
        ("booleanarray", [True, False], "bool_array"),
        ("stringarray", ["a", "b"], "string_array"),
        ("binaryblobarray", [b"\x01", b"\x02"], "string_array"),
    ],
)
def test_each_value_type_lands_in_its_column(value_type: str, value: object, column: str) -> None:
    [row] = table([batch(0, reading(value_type, value))])

    assert row["value_type"] == value_type
    assert row[column] == stored(value)
    assert {k: row[k] for k in DEFAULTS if k != column} == {k: v for k, v in DEFAULTS.items() if k != column}


def test_false_boolean_and_zero_values_are_kept() -> None:
    rows = table([batch(0, reading("boolean", False), reading("double", 0.0), reading("integer", 0))])
    assert [r["value_type"] for r in rows] == ["boolean", "double", "integer"]


def test_reading_ids_are_id_base_plus_index_and_stable() -> None:
    batches = [
        batch(1000, reading("double", 1.0), reading("double", 2.0), reading("double", 3.0)),
        batch(5000, reading("integer", 4), reading("integer", 5)),
    ]

    first = individual_columns(batches)
    second = individual_columns(batches)

    assert first == second
    assert [r["reading_id"] for r in table(batches)] == [1000, 1001, 1002, 5000, 5001]


def test_a_reading_id_from_the_broker_wins_over_the_batch_position() -> None:
    derived = reading("double", 1.0, reading_id=2**62 + 7)
    positional = reading("double", 2.0, reading_id=None)
    rows = table([batch(1000, derived, positional)])

    assert [r["reading_id"] for r in rows] == [2**62 + 7, 1001]


def test_unsets_are_skipped_without_shifting_later_ids() -> None:
    rows = table(
        [
            batch(
                10,
                reading("double", None, path="/a"),
                reading("double", 1.0, path="/b"),
                reading("string", None, path="/c"),
                reading("string", "x", path="/d"),
            )
        ]
    )

    assert [(r["path"], r["reading_id"]) for r in rows] == [("/b", 11), ("/d", 13)]


def test_object_reading_spreads_into_one_row_per_key() -> None:
    value = {
        "temp": 21.5,
        "count": 3,
        "ok": True,
        "name": "kitchen",
        "blob": b"\x00",
        "missing": None,
        "series": [1.0, 2],
        "ids": [1, 2],
    }
    rows = table(
        [
            batch(
                40,
                reading("double", 1.0, path="/before"),
                reading("object", value, path="/sensors/a", timestamp=77, reception_timestamp=88),
                reading("object", None, path="/sensors/unset"),
                reading("double", 2.0, path="/after"),
            )
        ]
    )

    spread = [r for r in rows if r["path"].startswith("/sensors/a/")]
    assert [r["path"] for r in spread] == [f"/sensors/a/{k}" for k in value if k != "missing"]
    assert {r["reading_id"] for r in spread} == {41}
    assert {(r["timestamp"], r["reception_timestamp"]) for r in spread} == {(77, 88)}
    by_key = {r["path"].rsplit("/", 1)[1]: r for r in spread}
    assert {k: r["value_type"] for k, r in by_key.items()} == {
        "temp": "double",
        "count": "longinteger",
        "ok": "boolean",
        "name": "string",
        "blob": "binaryblob",
        "series": "doublearray",
        "ids": "longintegerarray",
    }
    assert by_key["temp"]["double_value"] == 21.5
    assert by_key["count"]["long_value"] == 3
    assert by_key["ok"]["bool_value"] is True
    assert by_key["name"]["string_value"] == b"kitchen"
    assert by_key["blob"]["string_value"] == b"\x00"
    assert by_key["series"]["double_array"] == [1.0, 2]
    assert by_key["ids"]["long_array"] == [1, 2]
    assert (rows[0]["path"], rows[0]["reading_id"]) == ("/before", 40)
    assert (rows[-1]["path"], rows[-1]["reading_id"]) == ("/after", 43)
    assert len(rows) == 2 + len(spread)


@pytest.mark.parametrize(
    ("member", "value_type", "column"),
    [
        (["a", "b"], "stringarray", "string_array"),
        ([True, False], "booleanarray", "bool_array"),
        ([b"\x01"], "binaryblobarray", "string_array"),
    ],
)
def test_object_array_members_land_in_their_column(member: list[Any], value_type: str, column: str) -> None:
    [row] = table([batch(0, reading("object", {"k": member}, path="/o"))])

    assert row["value_type"] == value_type
    assert row[column] == stored(member)
    assert row["long_array"] == []
