"""Per-type value converters: decoded BSON or JSON value -> canonical Python value.

A converter returns the canonical value (float, int, bool, str, bytes, int µs
since the epoch for datetime, lists of those) or raises ``ValueRefused``.
Only the failure path allocates; the success path is a few type checks.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bson.binary import Binary
from bson.datetime_ms import DatetimeMS
from bson.int64 import Int64

from schemas.mapping import MAX_ARRAY_ITEMS, MAX_BYTES, MappingType

__all__ = [
    "MAX_INT32",
    "MAX_INT64",
    "Converter",
    "ValueRefused",
    "bson_converter",
    "bson_encoder",
    "json_converter",
    "parse_iso8601_us",
]

Converter = Callable[[object], object]

MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_DECIMAL_RE = re.compile(r"-?[0-9]+")
_BSON_NAMES = {
    float: "double",
    int: "int32",
    Int64: "int64",
    bool: "boolean",
    str: "string",
    bytes: "binary",
    Binary: "binary",
    DatetimeMS: "datetime",
    list: "array",
    dict: "document",
    type(None): "null",
}


class ValueRefused(Exception):
    """A value does not fit its mapping; ``kind`` is ``type``, ``size`` or ``key``."""

    def __init__(self, reason: str, *, kind: str = "type") -> None:
        super().__init__(reason)
        self.reason, self.kind = reason, kind


def _refuse(expected: str, value: object) -> ValueRefused:
    kind = _BSON_NAMES.get(type(value), type(value).__name__)
    return ValueRefused(f"expected {expected}, got {kind}")


def _bson_double(v: object) -> object:
    if type(v) is float:
        if math.isfinite(v):
            return v
        raise ValueRefused(f"expected a finite double, got {v!r}")
    if type(v) is int or type(v) is Int64:
        return float(v)
    raise _refuse("double", v)


def _bson_integer(v: object) -> object:
    if type(v) is int or type(v) is Int64:
        if -MAX_INT32 <= v <= MAX_INT32:
            return int(v)
        raise ValueRefused(f"integer {v} is outside ±{MAX_INT32}")
    raise _refuse("integer (int32)", v)


def _bson_longinteger(v: object) -> object:
    if type(v) is int or type(v) is Int64:
        if -MAX_INT64 <= v <= MAX_INT64:
            return int(v)
        raise ValueRefused(f"longinteger {v} is outside ±{MAX_INT64}")
    raise _refuse("longinteger (int64)", v)


def _boolean(v: object) -> object:
    if type(v) is bool:
        return v
    raise _refuse("boolean", v)


def _string(v: object) -> object:
    if type(v) is not str:
        raise _refuse("string", v)
    if len(v) > MAX_BYTES // 4 and len(v.encode()) > MAX_BYTES:
        raise ValueRefused(f"string exceeds {MAX_BYTES} bytes", kind="size")
    return v


def _blob(v: bytes) -> bytes:
    if len(v) > MAX_BYTES:
        raise ValueRefused(f"binaryblob exceeds {MAX_BYTES} bytes", kind="size")
    return v


def _bson_binaryblob(v: object) -> object:
    if type(v) is bytes:
        return _blob(v)
    if isinstance(v, Binary):
        return _blob(bytes(v))
    raise _refuse("binaryblob", v)


def _bson_datetime(v: object) -> object:
    if type(v) is DatetimeMS:
        return int(v) * 1000
    raise _refuse("datetime", v)


def _array(element: Converter, name: str) -> Converter:
    def convert(v: object) -> object:
        if type(v) is not list:
            raise _refuse(name, v)
        if len(v) > MAX_ARRAY_ITEMS:
            raise ValueRefused(f"{name} exceeds {MAX_ARRAY_ITEMS} items", kind="size")
        try:
            return [element(item) for item in v]
        except ValueRefused as exc:
            raise ValueRefused(f"{name} item: {exc.reason}", kind=exc.kind) from None

    return convert


def _json_double(v: object) -> object:
    if type(v) is float and math.isfinite(v):
        return v
    if type(v) is int:
        return float(v)
    raise _refuse("a finite double", v)


def _json_integer(v: object) -> object:
    if type(v) is int and -MAX_INT32 <= v <= MAX_INT32:
        return v
    raise ValueRefused(f"expected integer within ±{MAX_INT32}, got {v!r}"[:200])


def _json_longinteger(v: object) -> object:
    if type(v) is str and _DECIMAL_RE.fullmatch(v):
        v = int(v)
    if type(v) is int and -MAX_INT64 <= v <= MAX_INT64:
        return v
    raise ValueRefused(f"expected longinteger (number or decimal string) within ±{MAX_INT64}")


def _json_binaryblob(v: object) -> object:
    if type(v) is not str:
        raise _refuse("binaryblob (base64 string)", v)
    try:
        return _blob(base64.b64decode(v, validate=True))
    except binascii.Error:
        raise ValueRefused("expected binaryblob as a base64 string") from None


def parse_iso8601_us(text: str) -> int:
    """Microseconds since the epoch of an ISO-8601 timestamp (naive means UTC)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _ONE_US


def _json_datetime(v: object) -> object:
    if type(v) is str:
        try:
            return parse_iso8601_us(v)
        except ValueError:
            pass
    raise ValueRefused(f"expected datetime as an ISO-8601 string, got {v!r}"[:200])


_BSON_SCALARS: dict[MappingType, Converter] = {
    MappingType.DOUBLE: _bson_double,
    MappingType.INTEGER: _bson_integer,
    MappingType.BOOLEAN: _boolean,
    MappingType.LONGINTEGER: _bson_longinteger,
    MappingType.STRING: _string,
    MappingType.BINARYBLOB: _bson_binaryblob,
    MappingType.DATETIME: _bson_datetime,
}
_JSON_SCALARS: dict[MappingType, Converter] = {
    MappingType.DOUBLE: _json_double,
    MappingType.INTEGER: _json_integer,
    MappingType.BOOLEAN: _boolean,
    MappingType.LONGINTEGER: _json_longinteger,
    MappingType.STRING: _string,
    MappingType.BINARYBLOB: _json_binaryblob,
    MappingType.DATETIME: _json_datetime,
}


def bson_converter(mapping_type: MappingType) -> Converter:
    """Converter for values decoded by pymongo's ``bson`` (datetimes as DatetimeMS)."""
    scalar = _BSON_SCALARS[mapping_type.element]
    return _array(scalar, mapping_type.value) if mapping_type.is_array else scalar


def json_converter(mapping_type: MappingType) -> Converter:
    """Converter for values decoded from the JSON form (blobs base64, datetimes ISO-8601)."""
    scalar = _JSON_SCALARS[mapping_type.element]
    return _array(scalar, mapping_type.value) if mapping_type.is_array else scalar


def _encode_scalar(mapping_type: MappingType, value: object) -> object:
    if mapping_type is MappingType.DOUBLE:
        return float(value)  # type: ignore[arg-type]
    if mapping_type is MappingType.LONGINTEGER:
        return Int64(value)  # type: ignore[call-overload]
    if mapping_type is MappingType.DATETIME:
        return DatetimeMS(int(value) // 1000)  # type: ignore[call-overload]
    return value


def bson_encoder(mapping_type: MappingType) -> Converter:
    """Canonical value -> BSON-ready value of ``mapping_type`` (datetime µs cut to ms)."""
    element = mapping_type.element
    if mapping_type.is_array:
        return lambda v: [_encode_scalar(element, x) for x in v]  # type: ignore[attr-defined]
    return lambda v: _encode_scalar(element, v)
