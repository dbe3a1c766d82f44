"""Payload decoding (astarte.md §2): one row per accepted form and per refusal."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import bson
import pytest
from bson.binary import Binary
from bson.datetime_ms import DatetimeMS
from bson.int64 import Int64

from schemas.interface import Ownership, parse_interface
from schemas.payload import CompiledInterface, Decoded, DeviceErrorName, Rejection

TYPE_ERR = DeviceErrorName.UNEXPECTED_VALUE_TYPE
SIZE_ERR = DeviceErrorName.VALUE_SIZE_EXCEEDED
KEY_ERR = DeviceErrorName.UNEXPECTED_OBJECT_KEY
BAD_BSON = DeviceErrorName.UNDECODABLE_BSON_PAYLOAD
MAX32, MAX64 = 2**31 - 1, 2**63 - 1
JAN_2024_MS = 1704067200000


def compiled(mappings: list[dict[str, Any]], type_: str = "datastream", **fields: Any) -> CompiledInterface:
    return CompiledInterface(
        parse_interface(
            {
                "interface_name": "org.example.Payload",
                "version_major": 1,
                "version_minor": 2,
                "type": type_,
                "ownership": "device",
                "mappings": mappings,
                **fields,
            }
        )
    )


ALL_TYPES = compiled(
    [
        {"endpoint": f"/%{{id}}/{t}", "type": t}
        for t in [
            "double",
            "integer",
            "boolean",
            "longinteger",
            "string",
            "binaryblob",
            "datetime",
            "doublearray",
            "integerarray",
            "booleanarray",
            "longintegerarray",
            "stringarray",
            "binaryblobarray",
            "datetimearray",
        ]
    ]
)
TS = compiled([{"endpoint": "/ts/%{id}", "type": "double", "explicit_timestamp": True}])


def bson_v(value: object, **extra: object) -> bytes:
    return bson.encode({"v": value, **extra})


ACCEPTED: list[tuple[str, object, object]] = [
    ("double", 21.5, 21.5),
    ("double", -0.0, 0.0),
    ("double", 3, 3.0),
    ("double", Int64(2**40), float(2**40)),
    ("double", 1.7976931348623157e308, 1.7976931348623157e308),
    ("integer", 7, 7),
    ("integer", MAX32, MAX32),
    ("integer", -MAX32, -MAX32),
    ("integer", Int64(12), 12),
    ("boolean", True, True),
    ("boolean", False, False),
    ("longinteger", Int64(MAX64), MAX64),
    ("longinteger", Int64(-MAX64), -MAX64),
    ("longinteger", 5, 5),
    ("string", "héllo", "héllo"),
    ("string", "", ""),
    ("string", "x" * 65536, "x" * 65536),
    ("string", "é" * 32768, "é" * 32768),
    ("binaryblob", b"\x00\x01", b"\x00\x01"),
    ("binaryblob", Binary(b"\x02", 128), b"\x02"),
    ("binaryblob", b"x" * 65536, b"x" * 65536),
    ("datetime", DatetimeMS(JAN_2024_MS), JAN_2024_MS * 1000),
    ("datetime", dt.datetime(2024, 1, 1, tzinfo=dt.UTC), JAN_2024_MS * 1000),
    ("datetime", DatetimeMS(-1), -1000),
    ("doublearray", [1.5, 2, Int64(3)], [1.5, 2.0, 3.0]),
    ("doublearray", [], []),
    ("integerarray", [1, -2], [1, -2]),
    ("booleanarray", [True, False], [True, False]),
    ("longintegerarray", [Int64(MAX64), 1], [MAX64, 1]),
    ("stringarray", ["a", ""], ["a", ""]),
    ("binaryblobarray", [b"a", b""], [b"a", b""]),
    ("datetimearray", [DatetimeMS(1), DatetimeMS(2)], [1000, 2000]),
    ("doublearray", [0.5] * 1024, [0.5] * 1024),
]


@pytest.mark.parametrize(("type_", "sent", "expected"), ACCEPTED)
def test_bson_accepted(type_: str, sent: object, expected: object) -> None:
    result = ALL_TYPES.decode_bson(f"/dev1/{type_}", bson_v(sent))
    assert result == Decoded(f"/%{{id}}/{type_}", type_, expected, None, None)
    assert type(result.value) is type(expected)


REFUSED: list[tuple[str, object, DeviceErrorName, str]] = [
    ("double", float("nan"), TYPE_ERR, "finite"),
    ("double", float("inf"), TYPE_ERR, "finite"),
    ("double", float("-inf"), TYPE_ERR, "finite"),
    ("double", "1.5", TYPE_ERR, "expected double, got string"),
    ("double", True, TYPE_ERR, "got boolean"),
    ("double", None, TYPE_ERR, "got null"),
    ("integer", Int64(MAX32 + 1), TYPE_ERR, "outside"),
    ("integer", Int64(-MAX32 - 2), TYPE_ERR, "outside"),
    ("integer", -MAX32 - 1, TYPE_ERR, "outside"),
    ("integer", 1.0, TYPE_ERR, "got double"),
    ("integer", False, TYPE_ERR, "got boolean"),
    ("longinteger", Int64(-(2**63)), TYPE_ERR, "outside"),
    ("longinteger", 1.5, TYPE_ERR, "got double"),
    ("longinteger", "12", TYPE_ERR, "got string"),
    ("boolean", 1, TYPE_ERR, "got int32"),
    ("boolean", "true", TYPE_ERR, "got string"),
    ("string", b"abc", TYPE_ERR, "got binary"),
    ("string", "x" * 65537, SIZE_ERR, "65536"),
    ("string", "é" * 32769, SIZE_ERR, "65536"),
    ("binaryblob", "abc", TYPE_ERR, "got string"),
    ("binaryblob", b"x" * 65537, SIZE_ERR, "65536"),
    ("datetime", 5, TYPE_ERR, "got int32"),
    ("datetime", Int64(JAN_2024_MS), TYPE_ERR, "got int64"),
    ("datetime", "2024-01-01T00:00:00Z", TYPE_ERR, "got string"),
    ("doublearray", 1.5, TYPE_ERR, "got double"),
    ("doublearray", [1.5, "x"], TYPE_ERR, "item"),
    ("doublearray", [1.5, float("nan")], TYPE_ERR, "finite"),
    ("doublearray", [0.5] * 1025, SIZE_ERR, "1024"),
    ("integerarray", [1, Int64(2**40)], TYPE_ERR, "outside"),
    ("booleanarray", [True, 1], TYPE_ERR, "item"),
    ("longintegerarray", [1, 2.0], TYPE_ERR, "item"),
    ("stringarray", ["a", 1], TYPE_ERR, "item"),
    ("stringarray", ["a", "x" * 65537], SIZE_ERR, "65536"),
    ("binaryblobarray", [b"a", "b"], TYPE_ERR, "item"),
    ("datetimearray", [DatetimeMS(1), 2], TYPE_ERR, "item"),
    ("stringarray", {"a": "b"}, TYPE_ERR, "got document"),
]


@pytest.mark.parametrize(("type_", "sent", "error", "fragment"), REFUSED)
def test_bson_refused(type_: str, sent: object, error: DeviceErrorName, fragment: str) -> None:
    result = ALL_TYPES.decode_bson(f"/dev1/{type_}", bson_v(sent))
    assert isinstance(result, Rejection)
    assert result.error is error
    assert fragment in result.detail
    assert "org.example.Payload" in result.detail and f"/dev1/{type_}" in result.detail
    assert type_ in result.detail


@pytest.mark.parametrize(
    ("path", "payload", "error"),
    [
        ("/dev1/double", b"\x05\x00\x00", BAD_BSON),
        ("/dev1/double", b"not bson at all", BAD_BSON),
        ("/dev1/double", bson.encode({"v": 1.0})[:-1], BAD_BSON),
        ("/dev1/double", bson.encode({"value": 1.0}), BAD_BSON),
        ("/dev1/nothing", bson_v(1.0), DeviceErrorName.MAPPING_NOT_FOUND),
        ("/dev1", bson_v(1.0), DeviceErrorName.MAPPING_NOT_FOUND),
        ("/dev1/double/x", bson_v(1.0), DeviceErrorName.MAPPING_NOT_FOUND),
        ("/dev1//double", bson_v(1.0), DeviceErrorName.INVALID_PATH),
        ("dev1/double", bson_v(1.0), DeviceErrorName.INVALID_PATH),
        ("/dev+/double", bson_v(1.0), DeviceErrorName.INVALID_PATH),
        ("/#/double", bson_v(1.0), DeviceErrorName.INVALID_PATH),
        ("/dev1/double/", bson_v(1.0), DeviceErrorName.INVALID_PATH),
        ("", bson_v(1.0), DeviceErrorName.INVALID_PATH),
    ],
)
def test_bson_envelope_and_path_errors(path: str, payload: bytes, error: DeviceErrorName) -> None:
    result = ALL_TYPES.decode_bson(path, payload)
    assert isinstance(result, Rejection) and result.error is error


def test_explicit_timestamp_and_metadata() -> None:
    t = DatetimeMS(JAN_2024_MS)
    with_t = TS.decode_bson("/ts/a", bson_v(1.0, t=t, m={"unit": "C"}))
    assert with_t == Decoded("/ts/%{id}", "double", 1.0, JAN_2024_MS * 1000, {"unit": "C"})
    assert TS.decode_bson("/ts/a", bson_v(1.0)) == Decoded("/ts/%{id}", "double", 1.0, None, None)
    ignored = ALL_TYPES.decode_bson("/x/double", bson_v(1.0, t=t))
    assert isinstance(ignored, Decoded) and ignored.timestamp_us is None


@pytest.mark.parametrize(
    "extra",
    [{"t": "2024-01-01"}, {"t": Int64(5)}, {"m": "x"}, {"m": {"a": 1}}, {"m": ["a"]}],
)
def test_bad_timestamp_or_metadata(extra: dict[str, object]) -> None:
    result = TS.decode_bson("/ts/a", bson_v(1.0, **extra))
    assert isinstance(result, Rejection) and result.error is TYPE_ERR


PROPS = compiled(
    [
        {"endpoint": "/%{id}/enabled", "type": "boolean", "allow_unset": True},
        {"endpoint": "/%{id}/blob", "type": "binaryblob", "allow_unset": True},
        {"endpoint": "/%{id}/name", "type": "string"},
    ],
    type_="properties",
)


@pytest.mark.parametrize("payload", [b"", bson_v(b""), bson_v(Binary(b"", 0))])
def test_unset(payload: bytes) -> None:
    assert PROPS.decode_bson("/a/enabled", payload) == Decoded("/%{id}/enabled", "boolean", None, None, None)
    assert PROPS.decode_bson("/a/blob", payload) == Decoded("/%{id}/blob", "binaryblob", None, None, None)
    for compiled_, path in [(PROPS, "/a/name"), (ALL_TYPES, "/a/double"), (ALL_TYPES, "/a/binaryblob")]:
        refused = compiled_.decode_bson(path, payload)
        assert isinstance(refused, Rejection) and refused.error is TYPE_ERR
        assert "allow_unset" in refused.detail


def test_unset_path_must_still_resolve() -> None:
    result = PROPS.decode_bson("/a/unknown", b"")
    assert isinstance(result, Rejection) and result.error is DeviceErrorName.MAPPING_NOT_FOUND


def test_write_on_server_owned_interface() -> None:
    server = CompiledInterface(PROPS.interface.model_copy(update={"ownership": Ownership.SERVER}))
    result = server.decode_from_device("/a/name", bson_v("x"))
    assert isinstance(result, Rejection)
    assert result.error is DeviceErrorName.WRITE_ON_SERVER_OWNED_INTERFACE
    assert PROPS.decode_from_device("/a/name", bson_v("x")) == PROPS.decode_bson("/a/name", bson_v("x"))


OBJ = compiled(
    [
        {"endpoint": "/%{sensor}/temp", "type": "double", "explicit_timestamp": True, "required": True},
        {"endpoint": "/%{sensor}/hum", "type": "integer", "explicit_timestamp": True},
        {"endpoint": "/%{sensor}/tags", "type": "stringarray", "explicit_timestamp": True},
    ],
    aggregation="object",
)


def test_object_accepted() -> None:
    t = DatetimeMS(JAN_2024_MS)
    result = OBJ.decode_bson("/s1", bson_v({"temp": 21, "hum": 40, "tags": ["a"]}, t=t))
    assert result == Decoded(
        "/%{sensor}", "object", {"temp": 21.0, "hum": 40, "tags": ["a"]}, JAN_2024_MS * 1000, None
    )
    partial = OBJ.decode_bson("/s1", bson_v({"temp": 1.5}))
    assert isinstance(partial, Decoded) and partial.value == {"temp": 1.5}


@pytest.mark.parametrize(
    ("path", "payload", "error", "fragment"),
    [
        ("/s1", bson_v({"temp": 1.0, "wind": 3}), KEY_ERR, "'wind'"),
        ("/s1", bson_v({"hum": 3}), KEY_ERR, "missing required key(s) temp"),
        ("/s1", bson_v({"temp": "hot"}), TYPE_ERR, "'temp'"),
        ("/s1", bson_v({"temp": 1.0, "hum": Int64(2**40)}), TYPE_ERR, "'hum'"),
        ("/s1", bson_v({"temp": 1.0, "tags": ["x" * 65537]}), SIZE_ERR, "'tags'"),
        ("/s1", bson_v({}), TYPE_ERR, "empty"),
        ("/s1", bson_v(1.5), TYPE_ERR, "expected an object"),
        ("/s1", b"", TYPE_ERR, "allow_unset"),
        ("/s1", bson_v(b""), TYPE_ERR, "allow_unset"),
        ("/s1/temp", bson_v({"temp": 1.0}), DeviceErrorName.MAPPING_NOT_FOUND, "/s1/temp"),
        ("/s+", bson_v({"temp": 1.0}), DeviceErrorName.INVALID_PATH, "/s+"),
    ],
)
def test_object_refused(path: str, payload: bytes, error: DeviceErrorName, fragment: str) -> None:
    result = OBJ.decode_bson(path, payload)
    assert isinstance(result, Rejection)
    assert result.error is error
    assert fragment in result.detail


# ---- JSON form ----


def js(value: object, **extra: object) -> bytes:
    return json.dumps({"v": value, **extra}).encode()


JSON_ACCEPTED: list[tuple[str, object, object]] = [
    ("double", 1.5, 1.5),
    ("double", 2, 2.0),
    ("integer", -MAX32, -MAX32),
    ("boolean", True, True),
    ("longinteger", MAX64, MAX64),
    ("longinteger", str(-MAX64), -MAX64),
    ("longinteger", "0012", 12),
    ("string", "é", "é"),
    ("binaryblob", base64.b64encode(b"\x00\xff").decode(), b"\x00\xff"),
    ("binaryblob", "", b""),
    ("datetime", "2024-01-01T00:00:00Z", JAN_2024_MS * 1000),
    ("datetime", "2024-01-01T01:00:00.000001+01:00", JAN_2024_MS * 1000 + 1),
    ("datetime", "2024-01-01T00:00:00", JAN_2024_MS * 1000),
    ("doublearray", [1, 2.5], [1.0, 2.5]),
    ("longintegerarray", ["1", 2], [1, 2]),
    ("binaryblobarray", ["AA=="], [b"\x00"]),
    ("datetimearray", ["1970-01-01T00:00:00.001Z"], [1000]),
]


@pytest.mark.parametrize(("type_", "sent", "expected"), JSON_ACCEPTED)
def test_json_accepted(type_: str, sent: object, expected: object) -> None:
    result = ALL_TYPES.decode_json(f"/d/{type_}", js(sent))
    assert result == Decoded(f"/%{{id}}/{type_}", type_, expected, None, None)


@pytest.mark.parametrize(
    ("type_", "payload", "error"),
    [
        ("double", b'{"v": NaN}', TYPE_ERR),
        ("double", b'{"v": Infinity}', TYPE_ERR),
        ("double", js("1.5"), TYPE_ERR),
        ("integer", js(MAX32 + 1), TYPE_ERR),
        ("integer", js(1.0), TYPE_ERR),
        ("integer", js(True), TYPE_ERR),
        ("longinteger", js(str(2**63)), TYPE_ERR),
        ("longinteger", js("1e3"), TYPE_ERR),
        ("longinteger", js(1.5), TYPE_ERR),
        ("binaryblob", js("not base64!"), TYPE_ERR),
        ("binaryblob", js(base64.b64encode(b"x" * 65537).decode()), SIZE_ERR),
        ("datetime", js("yesterday"), TYPE_ERR),
        ("datetime", js(JAN_2024_MS), TYPE_ERR),
        ("string", js("x" * 65537), SIZE_ERR),
        ("doublearray", js([1.0] * 1025), SIZE_ERR),
        ("double", b"{", BAD_BSON),
        ("double", b"[1]", BAD_BSON),
        ("double", b'{"x": 1}', BAD_BSON),
        ("double", b"\xff", BAD_BSON),
        ("double", js(None), TYPE_ERR),
        ("double", b"", TYPE_ERR),
    ],
)
def test_json_refused(type_: str, payload: bytes, error: DeviceErrorName) -> None:
    result = ALL_TYPES.decode_json(f"/d/{type_}", payload)
    assert isinstance(result, Rejection) and result.error is error


def test_json_unset_timestamp_metadata_and_object() -> None:
    unset = Decoded("/%{id}/enabled", "boolean", None, None, None)
    assert PROPS.decode_json("/a/enabled", js(None)) == unset
    assert PROPS.decode_json("/a/enabled", b"") == unset
    stamped = TS.decode_json("/ts/a", js(1, t="2024-01-01T00:00:00Z", m={"k": "v"}))
    assert stamped == Decoded("/ts/%{id}", "double", 1.0, JAN_2024_MS * 1000, {"k": "v"})
    bad_t = TS.decode_json("/ts/a", js(1, t="soon"))
    assert isinstance(bad_t, Rejection) and bad_t.error is TYPE_ERR
    obj = OBJ.decode_json("/s1", js({"temp": 1, "tags": ["a"]}))
    assert isinstance(obj, Decoded) and obj.value == {"temp": 1.0, "tags": ["a"]}
    wrong_key = OBJ.decode_json("/s1", js({"temp": 1, "x": 1}))
    assert isinstance(wrong_key, Rejection) and wrong_key.error is KEY_ERR


# ---- encoding ----


@pytest.mark.parametrize(("type_", "_sent", "expected"), ACCEPTED)
def test_encode_then_decode(type_: str, _sent: object, expected: object) -> None:
    payload = ALL_TYPES.encode_bson(expected, path=f"/x/{type_}")
    assert ALL_TYPES.decode_bson(f"/x/{type_}", payload).value == expected  # type: ignore[union-attr]


def test_encode_forms() -> None:
    assert ALL_TYPES.encode_bson(None) == b""
    assert bson.decode(ALL_TYPES.encode_bson(5, path="/x/longinteger"))["v"].__class__ is Int64
    payload = TS.encode_bson(2.5, 1_700_000_000_123_456, path="/ts/a")
    assert TS.decode_bson("/ts/a", payload) == Decoded(
        "/ts/%{id}", "double", 2.5, 1_700_000_000_123_000, None
    )
    assert bson.decode(ALL_TYPES.encode_bson(3))["v"] == 3
    single = compiled([{"endpoint": "/a/%{b}", "type": "double"}])
    assert bson.decode(single.encode_bson(3)) == {"v": 3.0}
    obj = OBJ.encode_bson({"temp": 1, "hum": 2}, JAN_2024_MS * 1000)
    assert OBJ.decode_bson("/s", obj) == Decoded(
        "/%{sensor}", "object", {"temp": 1.0, "hum": 2}, JAN_2024_MS * 1000, None
    )
    with pytest.raises(ValueError, match="unknown object key"):
        OBJ.encode_bson({"wind": 1})
    with pytest.raises(ValueError, match="no mapping"):
        ALL_TYPES.encode_bson(1.0, path="/nope")


def test_compiled_interface_attributes() -> None:
    assert (ALL_TYPES.name, ALL_TYPES.major, ALL_TYPES.minor) == ("org.example.Payload", 1, 2)
    assert ALL_TYPES.interface.name == "org.example.Payload"


def test_device_error_names_are_astarte_names() -> None:
    assert {e.value for e in DeviceErrorName} == {
        "write_on_server_owned_interface",
        "invalid_interface",
        "invalid_path",
        "mapping_not_found",
        "interface_loading_failed",
        "ambiguous_path",
        "undecodable_bson_payload",
        "unexpected_value_type",
        "value_size_exceeded",
        "unexpected_object_key",
        "invalid_introspection",
        "unexpected_control_message",
        "device_session_not_found",
        "resend_interface_properties_failed",
        "empty_cache_error",
    }
