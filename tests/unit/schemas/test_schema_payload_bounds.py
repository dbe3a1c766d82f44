"""Payloads that once stopped ingest or broke reads: times out of range and hostile JSON values.

A reading's timestamp must fit the store's DateTime64(6) (1900-01-01..2299-12-31) and a
datetime value must be showable in ISO 8601 (years 1..9999); both are refused otherwise.
"""

from __future__ import annotations

import json
from typing import Any

import bson
import pytest
from bson.datetime_ms import DatetimeMS

from schemas.interface import parse_interface
from schemas.payload import CompiledInterface, Decoded, DeviceErrorName, Rejection
from schemas.records import ingest_batches
from schemas.values import DATETIME_RANGE_US, TIMESTAMP_RANGE_US

TYPE_ERR = DeviceErrorName.UNEXPECTED_VALUE_TYPE
POISON_MS = 4_611_686_018_427_387_904  # 2**62 ms: beyond what int64 µs hold
YEAR_10000_MS = 253_402_300_800_000
YEAR_2300_MS = 10_413_792_000_000
BEFORE_1900_MS = -2_208_988_800_001


def compiled(*mappings: dict[str, Any], aggregation: str = "individual") -> CompiledInterface:
    return CompiledInterface(
        parse_interface(
            {
                "interface_name": "org.example.Times",
                "version_major": 1,
                "version_minor": 0,
                "type": "datastream",
                "ownership": "device",
                "aggregation": aggregation,
                "mappings": list(mappings),
            }
        )
    )


TIMES = compiled(
    {"endpoint": "/%{id}/value", "type": "double", "explicit_timestamp": True},
    {"endpoint": "/%{id}/when", "type": "datetime", "explicit_timestamp": True},
    {"endpoint": "/%{id}/whens", "type": "datetimearray", "explicit_timestamp": True},
    {"endpoint": "/%{id}/count", "type": "integer"},
    {"endpoint": "/%{id}/big", "type": "longinteger"},
    {"endpoint": "/%{id}/name", "type": "string"},
)
OBJECT = compiled(
    {"endpoint": "/%{id}/a", "type": "datetime", "explicit_timestamp": True},
    {"endpoint": "/%{id}/b", "type": "double", "explicit_timestamp": True},
    aggregation="object",
)


def refused(result: Decoded | Rejection, fragment: str) -> None:
    assert isinstance(result, Rejection), result
    assert result.error is TYPE_ERR
    assert fragment in result.detail


@pytest.mark.parametrize("t_ms", [POISON_MS, -POISON_MS, YEAR_10000_MS, YEAR_2300_MS, BEFORE_1900_MS])
def test_bson_timestamp_out_of_range_is_refused(t_ms: int) -> None:
    result = TIMES.decode_bson("/a/value", bson.encode({"v": 1.0, "t": DatetimeMS(t_ms)}))

    refused(result, "'t' timestamp")
    assert "1900-01-01" in result.detail  # type: ignore[union-attr]


@pytest.mark.parametrize("t_ms", [YEAR_2300_MS - 1, -2_208_988_800_000, 0])
def test_bson_timestamp_at_the_edges_is_kept(t_ms: int) -> None:
    result = TIMES.decode_bson("/a/value", bson.encode({"v": 1.0, "t": DatetimeMS(t_ms)}))

    assert isinstance(result, Decoded) and result.timestamp_us == t_ms * 1000


@pytest.mark.parametrize(
    "t",
    ["2300-01-01T00:00:00Z", "1899-12-31T23:59:59.999999Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00"],
)
def test_json_timestamp_out_of_range_is_refused(t: str) -> None:
    refused(TIMES.decode_json("/a/value", json.dumps({"v": 1.0, "t": t}).encode()), "'t' timestamp")


@pytest.mark.parametrize("v_ms", [POISON_MS, YEAR_10000_MS, -62_135_596_800_001, -POISON_MS])
def test_bson_datetime_value_out_of_range_is_refused(v_ms: int) -> None:
    refused(TIMES.decode_bson("/a/when", bson.encode({"v": DatetimeMS(v_ms)})), "0001-01-01")
    refused(TIMES.decode_bson("/a/whens", bson.encode({"v": [DatetimeMS(0), DatetimeMS(v_ms)]})), "item")
    refused(OBJECT.decode_bson("/a", bson.encode({"v": {"a": DatetimeMS(v_ms)}})), "'a'")


def test_datetime_values_at_the_edges_are_kept() -> None:
    low, high = DATETIME_RANGE_US[0] // 1000, DATETIME_RANGE_US[1] // 1000 - 1
    result = TIMES.decode_bson("/a/whens", bson.encode({"v": [DatetimeMS(low), DatetimeMS(high)]}))

    assert isinstance(result, Decoded) and result.value == [low * 1000, high * 1000]


@pytest.mark.parametrize("v", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_json_datetime_value_out_of_range_is_refused(v: str) -> None:
    refused(TIMES.decode_json("/a/when", json.dumps({"v": v}).encode()), "0001-01-01")


def test_every_accepted_time_fits_an_ingest_record() -> None:
    low, high = TIMESTAMP_RANGE_US
    readings = [
        {
            "realm": "r",
            "device_id": "d",
            "interface": "i",
            "major": 1,
            "path": "/p",
            "value_type": "datetime",
            "value": edge,
            "timestamp": time,
            "reception_timestamp": time,
            "reading_id": None,
        }
        for edge, time in [(DATETIME_RANGE_US[0], low), (DATETIME_RANGE_US[1] - 1, high - 1)]
    ]
    record = {"batch_id": "b", "id_base": 1, "broker_id": "x", "produced_at": 0, "readings": readings}

    assert ingest_batches().decode(ingest_batches().encode(record))["readings"] == readings


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("/a/value", 10**400),  # float() of it raises OverflowError
        ("/a/value", -(10**400)),
        ("/a/count", 10**400),
        ("/a/big", 10**400),
        ("/a/big", "9" * 400),  # int() of a long decimal string is slow, and refused past 4300 digits
        ("/a/big", "9" * 5000),
        ("/a/when", 10**400),
        ("/a/name", 10**400),
    ],
)
def test_json_huge_integers_are_refused_with_a_short_detail(path: str, value: object) -> None:
    result = TIMES.decode_json(path, json.dumps({"v": value}).encode())

    refused(result, "expected")
    assert len(result.detail) < 300  # type: ignore[union-attr]


def test_json_lone_surrogates_are_refused() -> None:
    # No UTF-8 record (Avro, ClickHouse) can carry a lone surrogate.
    refused(TIMES.decode_json("/a/name", b'{"v": "ok \\ud800"}'), "surrogate")


def test_json_deep_nesting_is_undecodable_not_an_error() -> None:
    payload = b'{"v": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    result = TIMES.decode_json("/a/value", payload)

    assert isinstance(result, Rejection) and result.error is DeviceErrorName.UNDECODABLE_BSON_PAYLOAD
