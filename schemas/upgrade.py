"""Whether a definition may replace an installed one as a minor upgrade (Astarte's rules, pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from schemas.interface import Interface

# What a minor upgrade may change on a mapping that already exists.
_MUTABLE = frozenset({"doc", "description", "explicit_timestamp", "retention", "expiry"})
_FIXED_FIELDS = ("interface_name", "version_major", "type", "ownership", "aggregation")


def minor_upgrade_error(installed: Interface, candidate: Interface) -> str | None:
    """Why ``candidate`` cannot replace ``installed`` as a minor upgrade, or None when it can.

    Name, major, type, ownership and aggregation stay; the minor grows; every endpoint
    stays; an existing mapping may change only doc, description, explicit_timestamp,
    retention and expiry; new mappings may be added.
    """
    for field in _FIXED_FIELDS:
        before, after = getattr(installed, field), getattr(candidate, field)
        if before != after:
            return f"{field} cannot change in a minor upgrade ({before} -> {after})"
    if candidate.minor <= installed.minor:
        return (
            f"version_minor must grow in an upgrade: {candidate.minor} is not above the installed "
            f"{installed.minor}"
        )
    new_mappings = {mapping.endpoint: mapping for mapping in candidate.mappings}
    for mapping in installed.mappings:
        replacement = new_mappings.get(mapping.endpoint)
        if replacement is None:
            return f"mapping {mapping.endpoint} cannot be removed in a minor upgrade"
        before = mapping.model_dump(exclude=set(_MUTABLE))
        after = replacement.model_dump(exclude=set(_MUTABLE))
        changed = sorted(key for key in before if before[key] != after[key])
        if changed:
            return f"mapping {mapping.endpoint}: {', '.join(changed)} cannot change in a minor upgrade"
    return None
