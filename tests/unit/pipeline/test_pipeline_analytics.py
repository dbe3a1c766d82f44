"""Pure parts of the analyst features: parameters, retention, SQL checks, export encodings."""

from __future__ import annotations

import csv
import io

import pyarrow.parquet as pq
import pytest
from pyarrow import ipc

from pipeline.api.analytics import parse_devices, parse_functions, parse_interval, value_type_at
from pipeline.api.exportfmt import encode
from pipeline.errors import BadRequestError, NotFoundError
from pipeline.store.realmsql import check_ast, jsonable
from pipeline.store.retention import Retention
from schemas.interface import parse_interface

T0 = 1_700_000_000_000_000


@pytest.mark.parametrize(
    ("text", "micros"),
    [("1us", 1), ("500ms", 500_000), ("30s", 30_000_000), ("1m", 60_000_000), ("2h", 7_200_000_000),
     ("1d", 86_400_000_000), ("1w", 604_800_000_000)],
)  # fmt: skip
def test_intervals(text: str, micros: int) -> None:
    assert parse_interval(text) == micros


@pytest.mark.parametrize("text", [None, "", "1", "m", "0s", "-1m", "1y", "1.5h"])
def test_bad_intervals(text: str | None) -> None:
    with pytest.raises(BadRequestError):
        parse_interval(text)


@pytest.mark.parametrize(
    ("text", "names"),
    [(None, ["avg", "min", "max", "sum", "count", "first", "last"]), ("max, avg,max", ["max", "avg"])],
)
def test_functions(text: str | None, names: list[str]) -> None:
    assert parse_functions(text) == names


@pytest.mark.parametrize("text", ["", ",", "median", "avg,p99"])
def test_bad_functions(text: str) -> None:
    with pytest.raises(BadRequestError):
        parse_functions(text)


def test_devices() -> None:
    assert parse_devices(" a,b ,a,") == ["a", "b"]
    for bad in (None, "", ",", ",".join(str(i) for i in range(1001))):
        with pytest.raises(BadRequestError):
            parse_devices(bad)


def _interface(aggregation: str = "individual") -> object:
    ttl = {"database_retention_policy": "use_ttl", "database_retention_ttl": 3600}
    return parse_interface(
        {
            "interface_name": "org.acme.Ttl",
            "version_major": 1,
            "version_minor": 0,
            "type": "datastream",
            "ownership": "device",
            "aggregation": aggregation,
            "mappings": [
                {"endpoint": "/%{s}/short", "type": "double", **ttl},
                {"endpoint": "/%{s}/long", "type": "string", **(ttl if aggregation == "object" else {})},
            ],
        }
    )


def test_retention_per_path_and_per_object() -> None:
    individual = Retention.of(_interface())  # type: ignore[arg-type]
    assert [individual.seconds(p) for p in ("/a/short", "/a/long", "/a/nope")] == [3600, 0, 0]
    objects = Retention.of(_interface("object"))  # type: ignore[arg-type]
    # Object members share their retention (Astarte's rule), so every row of it gets the same.
    assert [objects.seconds(p) for p in ("/a/short", "/a/long")] == [3600, 3600]


def test_value_type_at_paths_and_members() -> None:
    assert value_type_at(_interface(), "/x/short") == "double"  # type: ignore[arg-type]
    assert value_type_at(_interface("object"), "/x/long") == "string"  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        value_type_at(_interface("object"), "/x/nope")  # type: ignore[arg-type]


def _ast(*lines: str) -> list[str]:
    return ["SelectWithUnionQuery (children 1)", *lines]


@pytest.mark.parametrize(
    "lines",
    [
        _ast("  TableExpression (children 1)", "   TableIdentifier db.individual_datastreams"),
        _ast("  TableExpression (children 1)", "   TableIdentifier t"),  # a CTE
        _ast("  TableExpression (children 1)", "   Function values (children 1)"),
        _ast("   Identifier x.path"),
    ],
)
def test_check_ast_accepts(lines: list[str]) -> None:
    check_ast(lines, "db", {"db", "system"}, {"secret"})


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (_ast("  TableExpression (children 1)", "   TableIdentifier system.tables"), "not readable"),
        (_ast("  TableExpression (children 1)", "   TableIdentifier secret"), "not readable"),
        (_ast("  TableExpression (children 1)", "   Function s3 (children 1)"), "table function"),
        (_ast("  TableExpression (children 1)", "   Function numbers_mt (children 1)"), "generates data"),
        (_ast("  TableExpression (children 1)", "   Function generateRandom (children 1)"), "generates data"),
        (
            _ast("  TableExpression (children 1)", "   Function generate_series (children 1)"),
            "generates data",
        ),
        (_ast("   Function dictGetString (children 1)"), "dictGetString"),
        (_ast("   Set"), "SETTINGS"),
        (_ast("   Identifier system.one"), "outside"),
    ],
)
def test_check_ast_refuses(lines: list[str], reason: str) -> None:
    with pytest.raises(BadRequestError, match=reason):
        check_ast(lines, "db", {"db", "system"}, {"secret"})


def test_jsonable_has_no_nan() -> None:
    assert jsonable([float("nan"), 1.5, b"x", {1: float("inf")}]) == [None, 1.5, "x", {"1": None}]


ROWS = [[("d1", T0, T0 + 1, 1.5), ("d2", T0 + 1, T0 + 2, 2.5)], [("d1", T0 + 2, T0 + 3, 3.5)]]


def test_encodings_round_trip_over_chunks() -> None:
    parquet = b"".join(encode("parquet", "double", ROWS))
    assert pq.read_table(io.BytesIO(parquet)).column("value").to_pylist() == [1.5, 2.5, 3.5]
    arrow = b"".join(encode("arrow", "double", ROWS))
    assert ipc.open_stream(arrow).read_all().column("device_id").to_pylist() == ["d1", "d2", "d1"]
    text = b"".join(encode("csv", "double", ROWS)).decode()
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["device_id", "timestamp", "reception_timestamp", "value"]
    assert lines[1] == ["d1", "2023-11-14T22:13:20.000000Z", "2023-11-14T22:13:20.000001Z", "1.5"]


@pytest.mark.parametrize(
    ("value_type", "value", "field"),
    [
        ("binaryblob", "\x00\xff", "AP8="),
        ("datetime", T0, "2023-11-14T22:13:20.000000Z"),
        ("boolean", True, "true"),
        ("stringarray", ["a", "b"], '["a", "b"]'),
        ("integerarray", [1, 2], "[1, 2]"),
    ],
)
def test_csv_fields(value_type: str, value: object, field: str) -> None:
    text = b"".join(encode("csv", value_type, [[("d", T0, T0, value)]])).decode()
    assert list(csv.reader(io.StringIO(text)))[1][3] == field
