"""Hypothesis over the payload decoder: any BSON or JSON document, on every mapping type and objects.

The decoder only ever answers a ``Decoded`` or a ``Rejection``, and whatever it accepts fits an
ingest record (a reading no record can hold once stopped every device's PUBACKs). Budgets are
small so this runs in seconds.
"""

from __future__ import annotations

import json
from typing import Any

import bson
from bson.binary import Binary
from bson.datetime_ms import DatetimeMS
from bson.int64 import Int64
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.interface import MappingType, parse_interface
from schemas.payload import CompiledInterface, Decoded, Rejection
from schemas.records import ingest_batches
from schemas.values import DATETIME_RANGE_US, TIMESTAMP_RANGE_US, format_iso8601_us

TYPES = [t.value for t in MappingType]
KEYS = [*TYPES, "x"]  # object keys: every mapping's, and one no mapping has
BUDGET = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _interface(aggregation: str, endpoint: str) -> CompiledInterface:
    return CompiledInterface(
        parse_interface(
            {
                "interface_name": f"org.example.Fuzz{aggregation.title()}",
                "version_major": 1,
                "version_minor": 0,
                "type": "datastream",
                "ownership": "device",
                "aggregation": aggregation,
                "mappings": [
                    {"endpoint": endpoint.format(t), "type": t, "explicit_timestamp": True} for t in TYPES
                ],
            }
        )
    )


INDIVIDUAL = _interface("individual", "/%{{id}}/{}")
OBJECT = _interface("object", "/%{{id}}/{}")
INT64 = st.integers(-(2**63), 2**63 - 1)

BSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**31), 2**31 - 1)
    | INT64.map(Int64)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | st.binary(max_size=4).map(lambda b: Binary(b, 128))
    | INT64.map(DatetimeMS)
    | st.sampled_from([DatetimeMS(-(2**63)), DatetimeMS(2**63 - 1), DatetimeMS(2**62)])
)
BSON_VALUES = st.recursive(
    BSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=10,
)
HUGE_INTS = st.integers(10**18, 10**400) | st.integers(-(10**400), -(10**18))
ISO_TEXTS = st.builds(
    lambda us, sign, h: format_iso8601_us(us).removesuffix("Z") + f"{sign}{h:02d}:00",
    st.integers(DATETIME_RANGE_US[0], DATETIME_RANGE_US[1] - 1),
    st.sampled_from("+-"),
    st.integers(0, 23),
) | st.sampled_from(
    ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2300-01-01T00:00:00Z", "1899-12-31T23:59:59"]
)
JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | HUGE_INTS
    | HUGE_INTS.map(str)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["\ud800", "a\udfff", "AA==", "not base64"])
    | ISO_TEXTS
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=10,
)


def _fits_an_ingest_record(result: Decoded) -> None:
    reading = {
        "realm": "r",
        "device_id": "d",
        "interface": "org.example.Fuzz",
        "major": 1,
        "path": "/p",
        "value_type": result.value_type,
        "value": result.value,
        "timestamp": result.timestamp_us if result.timestamp_us is not None else 0,
        "reception_timestamp": 0,
    }
    codec = ingest_batches()
    record = {"batch_id": "b", "id_base": 0, "broker_id": "x", "produced_at": 0, "readings": [reading]}
    assert codec.decode(codec.encode(record))["readings"][0]["value_type"] == result.value_type
    if result.timestamp_us is not None:
        assert TIMESTAMP_RANGE_US[0] <= result.timestamp_us < TIMESTAMP_RANGE_US[1]


def _check(result: object) -> None:
    assert isinstance(result, Decoded | Rejection), result
    if isinstance(result, Decoded):
        _fits_an_ingest_record(result)


@BUDGET
@given(st.sampled_from(TYPES), BSON_VALUES, st.dictionaries(st.sampled_from(["t", "m"]), BSON_VALUES))
def test_any_bson_reading_decodes_to_a_storable_value_or_a_rejection(
    type_: str, value: object, extra: dict[str, Any]
) -> None:
    _check(INDIVIDUAL.decode_bson(f"/d/{type_}", bson.encode({"v": value, **extra})))


@BUDGET
@given(
    st.dictionaries(st.sampled_from(KEYS), BSON_VALUES, max_size=6),
    st.none() | INT64.map(DatetimeMS),
)
def test_any_bson_object_decodes_to_a_storable_value_or_a_rejection(
    value: dict[str, object], t: DatetimeMS | None
) -> None:
    doc: dict[str, object] = {"v": value} if t is None else {"v": value, "t": t}
    _check(OBJECT.decode_bson("/d", bson.encode(doc)))


@BUDGET
@given(st.sampled_from(TYPES), JSON_VALUES, st.dictionaries(st.sampled_from(["t", "m"]), JSON_VALUES))
def test_any_json_reading_decodes_to_a_storable_value_or_a_rejection(
    type_: str, value: object, extra: dict[str, Any]
) -> None:
    payload = json.dumps({"v": value, **extra}).encode()
    _check(INDIVIDUAL.decode_json(f"/d/{type_}", payload))


@BUDGET
@given(st.dictionaries(st.sampled_from(KEYS), JSON_VALUES, max_size=6), st.none() | ISO_TEXTS)
def test_any_json_object_decodes_to_a_storable_value_or_a_rejection(
    value: dict[str, object], t: str | None
) -> None:
    doc: dict[str, object] = {"v": value} if t is None else {"v": value, "t": t}
    _check(OBJECT.decode_json("/d", json.dumps(doc).encode()))


@BUDGET
@given(st.integers(-(2**70), 2**70))
def test_format_iso8601_agrees_with_the_parser_wherever_datetime_reaches(micros: int) -> None:
    from schemas.values import parse_iso8601_us

    text = format_iso8601_us(micros)
    if DATETIME_RANGE_US[0] <= micros < DATETIME_RANGE_US[1]:
        assert parse_iso8601_us(text.removesuffix("Z")) == micros
    else:
        assert text[0] in "+-0" and text.endswith("Z")
