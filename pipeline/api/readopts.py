"""AppEngine read parameters: parsing (400 with the reason) and the value/time forms they ask for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pipeline.errors import BadRequestError
from pipeline.store.readings import EPOCH, MAX_LIMIT, Window, iso_time
from schemas.values import format_iso8601_us

FORMATS: Final = ("structured", "table", "disjoint_tables")
# Astarte's bound for allow_safe_bigintegers: the largest mantissa of a double.
MAX_SAFE_INTEGER: Final = 0xFFFFFFFFFFFFF
_TRUE, _FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no", ""})


def parse_time(name: str, value: str | None) -> int | None:
    """An ISO 8601 query parameter as microseconds since the epoch; 400-class error when malformed."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequestError(f"{name}={value!r} is not an ISO 8601 date-time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(microseconds=1)


def iso_micros(micros: int) -> str:
    """ISO 8601 with microseconds, for cursors that must not lose precision."""
    try:
        moment = EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        return format_iso8601_us(micros)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# How many points of a window downsample_to considers when no limit is given.
DOWNSAMPLE_SCAN = 10_000_000


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """The parsed query parameters of a path read."""

    window: Window = field(default_factory=Window)
    limited: bool = False
    downsample_to: int | None = None
    downsample_key: str | None = None
    format: str = "structured"
    keep_milliseconds: bool = False
    allow_bigintegers: bool = False
    allow_safe_bigintegers: bool = False

    def time(self, micros: int) -> str | int:
        """A timestamp: ISO 8601 with milliseconds, or epoch milliseconds with ``keep_milliseconds``."""
        return micros // 1000 if self.keep_milliseconds else iso_time(micros)

    def value(self, value_type: str, value: Any) -> Any:
        """A JSON value with the longinteger policy applied (a string unless allowed)."""
        if value_type == "longinteger":
            return self._big(value)
        if value_type == "longintegerarray":
            return [self._big(item) for item in value]
        return value

    def _big(self, value: int) -> int | str:
        if self.allow_bigintegers or (self.allow_safe_bigintegers and abs(value) <= MAX_SAFE_INTEGER):
            return value
        return str(value)


def _flag(query: Mapping[str, str], name: str) -> bool:
    text = query.get(name)
    if text is None:
        return False
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise BadRequestError(f"{name}={text!r} must be true or false")


def _int(query: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    text = query.get(name)
    if text is None:
        return None
    try:
        number = int(text)
    except ValueError as exc:
        raise BadRequestError(f"{name}={text!r} is not an integer") from exc
    if not low <= number <= high:
        raise BadRequestError(f"{name}={number} must be between {low} and {high}")
    return number


def parse_options(query: Mapping[str, str]) -> ReadOptions:
    """The read options of a query string; BadRequestError naming the bad parameter."""
    if "since" in query and "since_after" in query:
        raise BadRequestError("since and since_after cannot be used together")
    limit = _int(query, "limit", 1, MAX_LIMIT)
    offset = _int(query, "offset", 0, 2**31)
    if offset is not None and "since" not in query:
        raise BadRequestError("offset needs since (it comes with links.next)")
    window = Window(
        since=parse_time("since", query.get("since")),
        since_after=parse_time("since_after", query.get("since_after")),
        to=parse_time("to", query.get("to")),
        # Downsampling looks at the whole window (up to DOWNSAMPLE_SCAN points), not the first page.
        limit=limit if limit is not None else DOWNSAMPLE_SCAN if "downsample_to" in query else MAX_LIMIT,
        offset=offset or 0,
    )
    lower = window.since if window.since is not None else window.since_after
    if lower is not None and window.to is not None and window.to <= lower:
        raise BadRequestError("to must be later than since or since_after")
    fmt = query.get("format", "structured")
    if fmt not in FORMATS:
        raise BadRequestError(f"format={fmt!r} must be one of {', '.join(FORMATS)}")
    key = query.get("downsample_key")
    if key is not None and "downsample_to" not in query:
        raise BadRequestError("downsample_key needs downsample_to")
    return ReadOptions(
        window=window,
        limited=limit is not None,
        downsample_to=_int(query, "downsample_to", 3, MAX_LIMIT),
        downsample_key=key,
        format=fmt,
        keep_milliseconds=_flag(query, "keep_milliseconds"),
        allow_bigintegers=_flag(query, "allow_bigintegers"),
        allow_safe_bigintegers=_flag(query, "allow_safe_bigintegers"),
    )
