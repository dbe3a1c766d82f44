"""Hypothesis properties: codec round-trips, out-of-range refusal, and no exception ever leaks."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import bson
from bson.datetime_ms import DatetimeMS
from bson.int64 import Int64
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.errors import InterfaceError
from schemas.interface import Interface, MappingType, parse_interface
from schemas.payload import CompiledInterface, Decoded, DeviceErrorName, Rejection

if TYPE_CHECKING:
    from collections.abc import Callable

MAX32, MAX64 = 2**31 - 1, 2**63 - 1
MS_RANGE = st.integers(-2_208_988_800_000, 10_413_791_999_999)  # a timestamp: 1900..2299
ISO_MS_RANGE = st.integers(-62135596800000, 253402300799999)  # years 1..9999

# canonical value strategy, and canonical -> BSON-ready value, per scalar type
SCALARS: dict[str, tuple[st.SearchStrategy[Any], Callable[[Any], object]]] = {
    "double": (st.floats(allow_nan=False, allow_infinity=False), float),
    "integer": (st.integers(-MAX32, MAX32), int),
    "boolean": (st.booleans(), bool),
    "longinteger": (st.integers(-MAX64, MAX64), Int64),
    "string": (st.text(max_size=64), str),
    "binaryblob": (st.binary(min_size=1, max_size=64), bytes),  # b"" alone is an unset
    "datetime": (ISO_MS_RANGE.map(lambda ms: ms * 1000), lambda us: DatetimeMS(us // 1000)),
}
JSON_FORMS: dict[str, Callable[[Any], object]] = {
    "binaryblob": lambda b: base64.b64encode(b).decode(),
    "datetime": lambda us: (
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)
    ).isoformat(),
    "longinteger": str,
}
ALL_TYPES = [t.value for t in MappingType]


def _compiled() -> CompiledInterface:
    mappings = [{"endpoint": f"/%{{id}}/{t}", "type": t} for t in ALL_TYPES]
    return CompiledInterface(
        parse_interface(
            {
                "interface_name": "org.example.Props",
                "version_major": 0,
                "version_minor": 1,
                "type": "datastream",
                "ownership": "device",
                "mappings": [{**m, "explicit_timestamp": True} for m in mappings],
            }
        )
    )


COMPILED = _compiled()
DEVICE_IDS = st.text(alphabet="abcdefghij0123456789-_", min_size=1, max_size=22)


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[str, Any, object]:
    """(mapping type, canonical value, BSON-ready value), arrays included."""
    type_ = draw(st.sampled_from(ALL_TYPES))
    element = type_.removesuffix("array")
    strategy, to_bson = SCALARS[element]
    if type_ == element:
        value = draw(strategy)
        return type_, value, to_bson(value)
    values = draw(st.lists(strategy, max_size=16))
    return type_, values, [to_bson(v) for v in values]


def _same(a: object, b: object) -> bool:
    return (
        type(a) is type(b) and a == b
        if not isinstance(a, list)
        else (isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b)))
    )


@settings(max_examples=400)
@given(typed_values(), DEVICE_IDS, st.none() | MS_RANGE)
def test_bson_encode_decode_is_identity(
    typed: tuple[str, Any, object], device: str, t_ms: int | None
) -> None:
    type_, canonical, bson_value = typed
    doc: dict[str, object] = {"v": bson_value}
    if t_ms is not None:
        doc["t"] = DatetimeMS(t_ms)
    result = COMPILED.decode_bson(f"/{device}/{type_}", bson.encode(doc))
    assert isinstance(result, Decoded), result
    assert _same(result.value, canonical)
    assert result.value_type == type_
    assert result.timestamp_us == (None if t_ms is None else t_ms * 1000)


@settings(max_examples=300)
@given(typed_values(), st.none() | MS_RANGE.map(lambda ms: ms * 1000))
def test_encode_bson_helper_round_trips(typed: tuple[str, Any, object], t_us: int | None) -> None:
    type_, canonical, _ = typed
    path = f"/dev/{type_}"
    result = COMPILED.decode_bson(path, COMPILED.encode_bson(canonical, t_us, path=path))
    assert isinstance(result, Decoded)
    assert _same(result.value, canonical) and result.timestamp_us == t_us


def _identity(value: object) -> object:
    return value


@settings(max_examples=300)
@given(typed_values())
def test_json_form_round_trips(typed: tuple[str, Any, object]) -> None:
    type_, canonical, _ = typed
    element = type_.removesuffix("array")
    form = JSON_FORMS.get(element, _identity)
    sent = [form(v) for v in canonical] if type_ != element else form(canonical)
    result = COMPILED.decode_json(f"/dev/{type_}", json.dumps({"v": sent}).encode())
    assert isinstance(result, Decoded), result
    assert _same(result.value, canonical)


OUT_OF_RANGE: list[tuple[str, st.SearchStrategy[Any], DeviceErrorName]] = [
    (
        "integer",
        st.integers(MAX32 + 1, MAX64) | st.integers(-(2**63), -MAX32 - 1),
        DeviceErrorName.UNEXPECTED_VALUE_TYPE,
    ),
    ("longinteger", st.just(Int64(-(2**63))), DeviceErrorName.UNEXPECTED_VALUE_TYPE),
    (
        "double",
        st.sampled_from([float("nan"), float("inf"), float("-inf")]),
        DeviceErrorName.UNEXPECTED_VALUE_TYPE,
    ),
    ("string", st.integers(65537, 70000).map(lambda n: "a" * n), DeviceErrorName.VALUE_SIZE_EXCEEDED),
    ("string", st.integers(21846, 23000).map(lambda n: "€" * n), DeviceErrorName.VALUE_SIZE_EXCEEDED),
    ("binaryblob", st.integers(65537, 70000).map(lambda n: b"\x00" * n), DeviceErrorName.VALUE_SIZE_EXCEEDED),
    ("doublearray", st.integers(1025, 1200).map(lambda n: [0.0] * n), DeviceErrorName.VALUE_SIZE_EXCEEDED),
    (
        "integerarray",
        st.lists(st.integers(-MAX32, MAX32), max_size=8).map(lambda xs: [*xs, Int64(2**40)]),
        DeviceErrorName.UNEXPECTED_VALUE_TYPE,
    ),
]


@settings(max_examples=60)
@given(st.sampled_from(range(len(OUT_OF_RANGE))), st.data())
def test_out_of_range_is_refused(row: int, data: Any) -> None:
    type_, strategy, error = OUT_OF_RANGE[row]
    value = data.draw(strategy)
    result = COMPILED.decode_bson(f"/dev/{type_}", bson.encode({"v": value}))
    assert isinstance(result, Rejection) and result.error is error


@settings(max_examples=200)
@given(st.integers(min_value=2**63) | st.integers(max_value=-(2**63)), st.sampled_from(["number", "string"]))
def test_json_longinteger_beyond_int64_is_refused(n: int, form: str) -> None:
    payload = json.dumps({"v": n if form == "number" else str(n)}).encode()
    result = COMPILED.decode_json("/dev/longinteger", payload)
    assert isinstance(result, Rejection) and result.error is DeviceErrorName.UNEXPECTED_VALUE_TYPE


BSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | st.integers(-(2**63), 2**63 - 1).map(DatetimeMS)
)
BSON_VALUES = st.recursive(
    BSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text("abvtm", max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400)
@given(
    st.sampled_from(ALL_TYPES), BSON_VALUES, st.dictionaries(st.sampled_from(["t", "m", "x"]), BSON_VALUES)
)
def test_any_bson_document_gives_decoded_or_rejection(
    type_: str, value: object, extra: dict[str, Any]
) -> None:
    result = COMPILED.decode_bson(f"/dev/{type_}", bson.encode({"v": value, **extra}))
    assert isinstance(result, Decoded | Rejection)


@settings(max_examples=300)
@given(st.binary(max_size=64), st.text(max_size=12))
def test_any_bytes_on_any_path_never_raise(payload: bytes, path: str) -> None:
    assert isinstance(COMPILED.decode_bson(path, payload), Decoded | Rejection)
    assert isinstance(COMPILED.decode_json(path, payload), Decoded | Rejection)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
INTERFACE_KEYS = st.sampled_from(
    [
        "interface_name",
        "version_major",
        "version_minor",
        "type",
        "ownership",
        "aggregation",
        "mappings",
        "description",
        "doc",
        "quality",
        "aggregate",
    ]
)
MAPPING_KEYS = st.sampled_from(
    [
        "endpoint",
        "type",
        "reliability",
        "retention",
        "expiry",
        "database_retention_policy",
        "database_retention_ttl",
        "allow_unset",
        "explicit_timestamp",
        "required",
        "path",
    ]
)


@settings(max_examples=400)
@given(
    st.dictionaries(INTERFACE_KEYS, JSONISH, max_size=11),
    st.lists(
        st.dictionaries(MAPPING_KEYS, JSONISH | st.sampled_from(["/a", "double", "use_ttl"])), max_size=3
    ),
)
def test_parse_interface_only_raises_interface_error(data: dict[str, Any], mappings: list[Any]) -> None:
    base = {
        "interface_name": "org.x.Y",
        "version_major": 1,
        "version_minor": 0,
        "type": "datastream",
        "ownership": "device",
        "mappings": mappings,
    }
    for candidate in (data, {**base, **data}, base):
        try:
            interface = parse_interface(candidate)
        except InterfaceError as exc:
            assert exc.field is None or str(exc).startswith(exc.field)
        else:
            assert isinstance(interface, Interface)
            assert parse_interface(interface.to_json()) == interface
