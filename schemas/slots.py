"""Compiled mappings: everything the hot path needs about one resolved endpoint.

An individual interface gets one ``Slot`` per mapping (indexed like
``interface.mappings``); an object interface gets a single slot whose
converters take the whole ``{last token: value}`` document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from schemas.values import Converter, ValueRefused, bson_converter, bson_encoder, json_converter

if TYPE_CHECKING:
    from schemas.interface import Interface

__all__ = ["OBJECT_VALUE_TYPE", "Slot", "compile_slots"]

OBJECT_VALUE_TYPE = "object"


class Slot(NamedTuple):
    """Converters and flags of one resolved endpoint (or of a whole object)."""

    endpoint: str
    value_type: str
    bson: Converter
    json: Converter
    encode: Converter
    allow_unset: bool
    explicit_timestamp: bool


def _object(fields: dict[str, Converter], required: frozenset[str]) -> Converter:
    expected = ", ".join(sorted(fields))

    def convert(v: object) -> object:
        if type(v) is not dict:
            raise ValueRefused(f"expected an object of {{{expected}}}, got {type(v).__name__}")
        if not v:
            raise ValueRefused("expected an object with at least one key, got an empty one")
        out: dict[str, object] = {}
        key = ""
        try:
            for key, item in v.items():
                out[key] = fields[key](item)
        except KeyError:
            raise ValueRefused(f"unexpected key {key!r}, expected one of {expected}", kind="key") from None
        except ValueRefused as exc:
            raise ValueRefused(f"key {key!r}: {exc.reason}", kind=exc.kind) from None
        if required and not required.issubset(out):
            missing = ", ".join(sorted(required.difference(out)))
            raise ValueRefused(f"missing required key(s) {missing}", kind="key")
        return out

    return convert


def _object_slot(interface: Interface) -> Slot:
    mappings = interface.mappings
    keys = [m.last_token for m in mappings]
    required = frozenset(m.last_token for m in mappings if m.required)
    encoders = {m.last_token: bson_encoder(m.type) for m in mappings}

    def encode(v: object) -> object:
        if not isinstance(v, dict):
            raise ValueError(f"{interface.name}: an object value must be a dict, got {v!r}")
        unknown = set(v).difference(encoders)
        if unknown:
            raise ValueError(f"{interface.name}: unknown object key(s) {sorted(unknown)}")
        return {k: encoders[k](x) for k, x in v.items()}

    return Slot(
        endpoint=mappings[0].prefix or "/",
        value_type=OBJECT_VALUE_TYPE,
        bson=_object({k: bson_converter(m.type) for k, m in zip(keys, mappings, strict=True)}, required),
        json=_object({k: json_converter(m.type) for k, m in zip(keys, mappings, strict=True)}, required),
        encode=encode,
        allow_unset=False,
        explicit_timestamp=mappings[0].explicit_timestamp,
    )


def compile_slots(interface: Interface) -> list[Slot]:
    """One slot per mapping, or the single object slot for object aggregation."""
    if interface.is_object:
        return [_object_slot(interface)]
    return [
        Slot(
            endpoint=m.endpoint,
            value_type=m.type.value,
            bson=bson_converter(m.type),
            json=json_converter(m.type),
            encode=bson_encoder(m.type),
            allow_unset=m.allow_unset,
            explicit_timestamp=m.explicit_timestamp,
        )
        for m in interface.mappings
    ]
