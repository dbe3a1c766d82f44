"""Per-type value converters: decoded BSON or JSON value -> canonical Python value.

A converter returns the canonical value (float, int, bool, str, bytes, int µs
since the epoch for datetime, lists of those) or raises ``ValueRefused``.
Only the failure path allocates; the success path is a few type checks.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bson.binary import Binary
from bson.datetime_ms import DatetimeMS
from bson.int64 import Int64

from schemas.mapping import MAX_ARRAY_ITEMS, MAX_BYTES, MappingType

__all__ = [
    "DATETIME_RANGE_US",
    "MAX_INT32",
    "MAX_INT64",
    "TIMESTAMP_RANGE_US",
    "Converter",
    "ValueRefused",
    "bson_converter",
    "bson_encoder",
    "format_iso8601_us",
    "json_converter",
    "parse_iso8601_us",
    "timestamp_refusal",
]

Converter = Callable[[object], object]

MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_DECIMAL_RE = re.compile(r"-?[0-9]{1,19}")

# The times a reading may carry, as [start, end) in µs since the epoch. A reading's timestamp is
# stored in ClickHouse DateTime64(6), which holds 1900-01-01 to 2299-12-31 (other ticks are taken
# silently and read back wrong); a datetime value is stored as Int64 µs and shown in ISO 8601, which
# Python's datetime bounds to years 1-9999 (Astarte's Elixir DateTime goes no further than 9999).
TIMESTAMP_RANGE_US = (-2_208_988_800_000_000, 10_413_792_000_000_000)
DATETIME_RANGE_US = (-62_135_596_800_000_000, 253_402_300_800_000_000)
_TIMESTAMP_SPAN = "1900-01-01T00:00:00Z..2299-12-31T23:59:59.999999Z"
_DATETIME_SPAN = "0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z"
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


def _json_string(v: object) -> object:
    # JSON may escape lone surrogates ("\ud800"), which no UTF-8 record can carry.
    if type(v) is not str:
        raise _refuse("string", v)
    try:
        size = len(v.encode())
    except UnicodeEncodeError:
        raise ValueRefused("string is not valid Unicode (a lone surrogate)") from None
    if size > MAX_BYTES:
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


def _datetime_us(us: int) -> int:
    if DATETIME_RANGE_US[0] <= us < DATETIME_RANGE_US[1]:
        return us
    raise ValueRefused(f"datetime {us} µs since the epoch is outside {_DATETIME_SPAN}")


def _bson_datetime(v: object) -> object:
    if type(v) is DatetimeMS:
        return _datetime_us(int(v) * 1000)
    raise _refuse("datetime", v)


def timestamp_refusal(us: int) -> str | None:
    """Why an explicit timestamp (µs since the epoch) cannot be a reading's time, or None if it can."""
    if TIMESTAMP_RANGE_US[0] <= us < TIMESTAMP_RANGE_US[1]:
        return None
    return f"timestamp {us} µs since the epoch is outside {_TIMESTAMP_SPAN}"


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
        try:
            return float(v)
        except OverflowError:  # JSON integers may have hundreds of digits
            raise ValueRefused("expected a finite double, got an integer beyond its range") from None
    raise _refuse("a finite double", v)


def _json_integer(v: object) -> object:
    if type(v) is int and -MAX_INT32 <= v <= MAX_INT32:
        return v
    raise ValueRefused(f"expected integer within ±{MAX_INT32}, got {_brief(v)}")


def _brief(v: object) -> str:
    """A short description of a refused JSON value (never the repr of a huge one)."""
    if type(v) is int:
        return f"an integer of {len(str(abs(v)))} digits" if abs(v) > MAX_INT64 else str(v)
    if type(v) is str:
        return repr(v[:40]) + ("..." if len(v) > 40 else "")
    return _BSON_NAMES.get(type(v), type(v).__name__)


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
    except ValueError:  # binascii.Error, or characters outside ASCII
        raise ValueRefused("expected binaryblob as a base64 string") from None


def parse_iso8601_us(text: str) -> int:
    """Microseconds since the epoch of an ISO-8601 timestamp (naive means UTC)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _ONE_US


def format_iso8601_us(micros: int, digits: int = 6) -> str:
    """ISO 8601 UTC (``Z``) of any µs since the epoch, with ``digits`` of the second's fraction.

    Unlike ``datetime`` it never overflows: a year outside 0..9999 takes a sign, ISO 8601's
    expanded form, so a stored time that validation would refuse today can still be shown.
    """
    days, rest = divmod(micros, 86_400_000_000)
    year, month, day = _civil_from_days(days)
    seconds, fraction = divmod(rest, 1_000_000)
    clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    year_text = f"{year:04d}" if 0 <= year <= 9999 else f"{year:+05d}"
    fraction_text = "." + f"{fraction:06d}"[:digits] if digits else ""
    return f"{year_text}-{month:02d}-{day:02d}T{clock}{fraction_text}Z"


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day) of a day count since 1970-01-01, for any count."""
    shifted = days + 719_468  # days since 0000-03-01, the start of a 400-year era
    era, day_of_era = divmod(shifted, 146_097)
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_from_march = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_from_march + 2) // 5 + 1
    month = month_from_march + 3 if month_from_march < 10 else month_from_march - 9
    return era * 400 + year_of_era + (month <= 2), month, day


def _json_datetime(v: object) -> object:
    if type(v) is str:
        try:
            us = parse_iso8601_us(v)
        except ValueError:
            pass
        else:
            return _datetime_us(us)
    raise ValueRefused(f"expected datetime as an ISO-8601 string, got {_brief(v)}")


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
    MappingType.STRING: _json_string,
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
