"""Rules of Astarte interfaces that span fields or mappings (astarte.md §1).

Each check raises ``InterfaceError`` naming the field (``mappings[2].expiry``)
and the rule. As in Astarte (Ecto ``cast`` records no change for a value equal
to the default), a type-specific field given with its default value is accepted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.errors import InterfaceError
from schemas.mapping import (
    DatabaseRetentionPolicy,
    Mapping,
    Reliability,
    Retention,
    normalize_endpoint,
    placeholder_name,
)
from schemas.templates import EndpointConflict, compile_templates

if TYPE_CHECKING:
    from schemas.interface import Interface

__all__ = ["check_interface"]

_DATASTREAM_ONLY = {
    "reliability": Reliability.UNRELIABLE,
    "retention": Retention.DISCARD,
    "expiry": 0,
    "database_retention_policy": DatabaseRetentionPolicy.NO_TTL,
    "database_retention_ttl": None,
    "explicit_timestamp": False,
}
_OBJECT_SHARED = (
    "reliability",
    "retention",
    "expiry",
    "explicit_timestamp",
    "database_retention_policy",
    "database_retention_ttl",
)


def _check_mapping(mapping: Mapping, at: str, *, datastream: bool, is_object: bool) -> None:
    if datastream:
        if mapping.allow_unset:
            raise InterfaceError(
                f"{at}.allow_unset: only properties interfaces may set it",
                field=f"{at}.allow_unset",
            )
    else:
        for name, default in _DATASTREAM_ONLY.items():
            if getattr(mapping, name) != default:
                raise InterfaceError(
                    f"{at}.{name}: only datastream interfaces may set it",
                    field=f"{at}.{name}",
                )
    if mapping.required and not is_object:
        raise InterfaceError(
            f"{at}.required: only object-aggregated interfaces may set it",
            field=f"{at}.required",
        )
    use_ttl = mapping.database_retention_policy is DatabaseRetentionPolicy.USE_TTL
    if use_ttl and mapping.database_retention_ttl is None:
        raise InterfaceError(
            f"{at}.database_retention_ttl: must be set when database_retention_policy is use_ttl",
            field=f"{at}.database_retention_ttl",
        )
    if not use_ttl and mapping.database_retention_ttl is not None:
        raise InterfaceError(
            f"{at}.database_retention_policy: must be use_ttl when database_retention_ttl is set",
            field=f"{at}.database_retention_policy",
        )


def _check_clashes(mappings: tuple[Mapping, ...]) -> None:
    seen: dict[str, int] = {}
    for i, mapping in enumerate(mappings):
        key = normalize_endpoint(mapping.endpoint)
        if (j := seen.setdefault(key, i)) != i:
            raise InterfaceError(
                f"mappings[{i}].endpoint: {mapping.endpoint!r} conflicts with "
                f"{mappings[j].endpoint!r} (equal without placeholders, ignoring case)",
                field=f"mappings[{i}].endpoint",
            )


def _check_overlaps(mappings: tuple[Mapping, ...]) -> None:
    try:
        compile_templates(m.endpoint for m in mappings)
    except EndpointConflict as exc:
        where = {m.endpoint: i for i, m in enumerate(mappings)}
        i, j = sorted((where[exc.first], where[exc.second]))
        rule = "one path could match both" if exc.kind == "ambiguous" else "one is a prefix of the other"
        raise InterfaceError(
            f"mappings[{j}].endpoint: {mappings[j].endpoint!r} and mappings[{i}] "
            f"{mappings[i].endpoint!r} are {exc.kind} paths: {rule}",
            field=f"mappings[{j}].endpoint",
        ) from None


def _check_object(mappings: tuple[Mapping, ...]) -> None:
    first = mappings[0]
    for i, mapping in enumerate(mappings):
        at = f"mappings[{i}]"
        for name in _OBJECT_SHARED:
            if getattr(mapping, name) != getattr(first, name):
                raise InterfaceError(
                    f"{at}.{name}: object-aggregated mappings must all share the same {name}",
                    field=f"{at}.{name}",
                )
        if mapping.prefix != first.prefix:
            raise InterfaceError(
                f"{at}.endpoint: object-aggregated endpoints must share the prefix "
                f"{first.prefix or '/'!r} and differ only in their last token",
                field=f"{at}.endpoint",
            )
        if placeholder_name(mapping.last_token) is not None:
            raise InterfaceError(
                f"{at}.endpoint: the last token of an object-aggregated endpoint "
                "names the object key and cannot be a placeholder",
                field=f"{at}.endpoint",
            )


def check_interface(interface: Interface) -> None:
    """Raise InterfaceError for the first cross-field rule ``interface`` breaks."""
    datastream = interface.type.value == "datastream"
    is_object = interface.aggregation.value == "object"
    if is_object and not datastream:
        raise InterfaceError("aggregation: must be individual for properties interfaces", field="aggregation")
    for i, mapping in enumerate(interface.mappings):
        _check_mapping(mapping, f"mappings[{i}]", datastream=datastream, is_object=is_object)
    _check_clashes(interface.mappings)
    if is_object:
        _check_object(interface.mappings)
    _check_overlaps(interface.mappings)
