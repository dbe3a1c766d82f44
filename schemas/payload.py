"""The per-reading hot path: decode and validate one Astarte payload for one path.

``CompiledInterface`` precomputes the endpoint trie and one converter per
mapping, so a reading costs a C BSON decode, a trie walk and a few type checks.
Malformed data is returned as a ``Rejection`` (data, not an exception).

JSON form for plain clients (``decode_json``): a UTF-8 object
``{"v": value, "t": "ISO-8601", "m": {"k": "v"}}`` where binaryblob is base64,
datetime an ISO-8601 string (naive means UTC), longinteger a number or a
decimal string; ``{"v": null}`` or an empty payload is an unset. An object
interface takes ``{"v": {"<last endpoint token>": value, ...}}``.

Times are bounded (``schemas.values``): an explicit timestamp ``t`` must lie in
1900-01-01..2299-12-31 UTC, what the store's DateTime64(6) holds, and a datetime
value in years 1..9999; anything else is refused as ``unexpected_value_type``.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import NamedTuple

import bson
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.datetime_ms import DatetimeMS

from schemas.endpoints import EndpointTrie, is_well_formed_path
from schemas.interface import Interface, InterfaceType, Ownership
from schemas.slots import Slot, compile_slots
from schemas.values import Converter, ValueRefused, parse_iso8601_us, timestamp_refusal

__all__ = ["CompiledInterface", "Decoded", "DeviceErrorName", "Rejection"]

_OPTIONS: CodecOptions[dict[str, object]] = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_MS)
_bson_decode = bson.decode
_bson_encode = bson.encode


class DeviceErrorName(StrEnum):
    """Astarte's device error names (astarte.md §2), used in device_error events."""

    WRITE_ON_SERVER_OWNED_INTERFACE = "write_on_server_owned_interface"
    INVALID_INTERFACE = "invalid_interface"
    INVALID_PATH = "invalid_path"
    MAPPING_NOT_FOUND = "mapping_not_found"
    INTERFACE_LOADING_FAILED = "interface_loading_failed"
    AMBIGUOUS_PATH = "ambiguous_path"
    UNDECODABLE_BSON_PAYLOAD = "undecodable_bson_payload"
    UNEXPECTED_VALUE_TYPE = "unexpected_value_type"
    VALUE_SIZE_EXCEEDED = "value_size_exceeded"
    UNEXPECTED_OBJECT_KEY = "unexpected_object_key"
    INVALID_INTROSPECTION = "invalid_introspection"
    UNEXPECTED_CONTROL_MESSAGE = "unexpected_control_message"
    DEVICE_SESSION_NOT_FOUND = "device_session_not_found"
    RESEND_INTERFACE_PROPERTIES_FAILED = "resend_interface_properties_failed"
    EMPTY_CACHE_ERROR = "empty_cache_error"


class Rejection(NamedTuple):
    """Why a reading was refused: Astarte's error name and a message naming the path."""

    error: DeviceErrorName
    detail: str


class Decoded(NamedTuple):
    """One validated reading with its value in canonical Python form (None = unset)."""

    endpoint: str
    value_type: str
    value: object
    timestamp_us: int | None
    metadata: dict[str, str] | None


_NOT_ALLOWED = DeviceErrorName.UNEXPECTED_VALUE_TYPE
_SIZE = DeviceErrorName.VALUE_SIZE_EXCEEDED
_UNDECODABLE = DeviceErrorName.UNDECODABLE_BSON_PAYLOAD
_ERRORS = {"type": _NOT_ALLOWED, "size": _SIZE, "key": DeviceErrorName.UNEXPECTED_OBJECT_KEY}


class CompiledInterface:
    """An interface ready for the hot path: trie plus per-mapping converters."""

    __slots__ = ("_label", "_lookup", "_slots", "interface", "major", "minor", "name", "trie")

    def __init__(self, interface: Interface) -> None:
        self.interface = interface
        self.name, self.major, self.minor = interface.name, interface.major, interface.minor
        self.trie = EndpointTrie(interface)
        self._label = f"{interface.name} v{interface.major}"
        self._lookup = self.trie.lookup
        self._slots: list[Slot] = compile_slots(interface)

    def decode_from_device(self, path: str, payload: bytes) -> Decoded | Rejection:
        """``decode_bson`` for a device publish: server-owned interfaces are refused."""
        if self.interface.ownership == Ownership.SERVER:
            return Rejection(
                DeviceErrorName.WRITE_ON_SERVER_OWNED_INTERFACE,
                f"{self._label} {path}: the interface is server-owned",
            )
        return self.decode_bson(path, payload)

    def decode_bson(self, path: str, payload: bytes) -> Decoded | Rejection:
        """Decode an Astarte BSON payload published on ``path`` (relative to the interface)."""
        index = self._lookup(path)
        if index is None:
            return self._no_match(path)
        slot = self._slots[index]
        if not payload:
            return self._unset(slot, path)
        try:
            doc = _bson_decode(payload, _OPTIONS)
        except Exception:  # bson raises several types on garbage; all mean the same
            return Rejection(_UNDECODABLE, f"{self._label} {path}: not a BSON document")
        return self._finish(slot, path, doc, slot.bson, json_form=False)

    def decode_json(self, path: str, payload: bytes) -> Decoded | Rejection:
        """Decode the JSON form described in this module's docstring; same rules as BSON."""
        index = self._lookup(path)
        if index is None:
            return self._no_match(path)
        slot = self._slots[index]
        if not payload:
            return self._unset(slot, path)
        try:
            doc = json.loads(payload)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            return Rejection(_UNDECODABLE, f"{self._label} {path}: not a JSON document")
        if type(doc) is not dict:
            return Rejection(_UNDECODABLE, f"{self._label} {path}: not a JSON object")
        return self._finish(slot, path, doc, slot.json, json_form=True)

    def encode_bson(
        self, value: object, timestamp_us: int | None = None, *, path: str | None = None
    ) -> bytes:
        """Canonical value -> Astarte BSON payload (None -> empty payload, an unset).

        The mapping is ``path``'s when given, else the only mapping type of the
        interface; an interface with several types and no path encodes as is.
        """
        if value is None:
            return b""
        slot: Slot | None = self._slots[0] if self.interface.is_object else None
        if path is not None and slot is None:
            index = self._lookup(path)
            if index is None:
                raise ValueError(f"{self._label}: no mapping for path {path!r}")
            slot = self._slots[index]
        elif slot is None and len({m.type for m in self.interface.mappings}) == 1:
            slot = self._slots[0]
        doc: dict[str, object] = {"v": slot.encode(value) if slot is not None else value}
        if timestamp_us is not None:
            doc["t"] = DatetimeMS(timestamp_us // 1000)
        return _bson_encode(doc)

    def _no_match(self, path: str) -> Rejection:
        if not is_well_formed_path(path):
            return Rejection(DeviceErrorName.INVALID_PATH, f"{self._label}: malformed path {path!r}")
        return Rejection(DeviceErrorName.MAPPING_NOT_FOUND, f"{self._label}: no mapping for path {path!r}")

    def _unset(self, slot: Slot, path: str) -> Decoded | Rejection:
        if slot.allow_unset:
            return Decoded(slot.endpoint, slot.value_type, None, None, None)
        kind = "datastream" if self.interface.type is InterfaceType.DATASTREAM else "property"
        return Rejection(
            _NOT_ALLOWED,
            f"{self._label} {path}: unset refused, {kind} mapping {slot.endpoint} does not allow_unset",
        )

    def _finish(
        self,
        slot: Slot,
        path: str,
        doc: dict[str, object],
        convert: Converter,
        *,
        json_form: bool,
    ) -> Decoded | Rejection:
        try:
            v = doc["v"]
        except KeyError:
            return Rejection(_UNDECODABLE, f"{self._label} {path}: the document has no 'v' key")
        if v is None if json_form else (type(v) is bytes and not v):
            return self._unset(slot, path)
        try:
            value = convert(v)
        except ValueRefused as exc:
            error = _ERRORS[exc.kind]
            return Rejection(error, f"{self._label} {path} ({slot.value_type}): {exc.reason}")
        timestamp_us = metadata = None
        if len(doc) > 1:
            t = doc.get("t")
            if slot.explicit_timestamp and t is not None:
                if not json_form and type(t) is DatetimeMS:
                    timestamp_us = int(t) * 1000
                elif json_form and type(t) is str and (us := _iso_or_none(t)) is not None:
                    timestamp_us = us
                else:
                    form = "an ISO-8601 string" if json_form else "a BSON datetime"
                    return Rejection(_NOT_ALLOWED, f"{self._label} {path}: 't' must be {form}")
                refused = timestamp_refusal(timestamp_us)
                if refused is not None:
                    return Rejection(_NOT_ALLOWED, f"{self._label} {path}: 't' {refused}")
            m = doc.get("m")
            if m is not None:
                if type(m) is not dict or any(type(x) is not str for x in m.values()):
                    return Rejection(_NOT_ALLOWED, f"{self._label} {path}: 'm' must map strings to strings")
                metadata = m
        return Decoded(slot.endpoint, slot.value_type, value, timestamp_us, metadata)


def _iso_or_none(text: str) -> int | None:
    try:
        return parse_iso8601_us(text)
    except ValueError:
        return None
