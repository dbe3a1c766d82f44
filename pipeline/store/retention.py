"""Row lifetimes from a mapping's ``database_retention_ttl`` (pure).

Migration 3 gives ``individual_datastreams`` a ``ttl_seconds`` column and the table TTL
``toDateTime(timestamp) + toIntervalSecond(ttl_seconds) WHERE ttl_seconds > 0``: each row
carries the lifetime its mapping had when it was written (0 keeps it forever), so one table
serves every interface and changing an interface never rewrites stored rows. The persist path
fills the column with ``Retention.of(interface, cap).seconds(path)``, where ``cap`` is the
realm's ``datastream_maximum_storage_retention``: as in Astarte, it bounds every datastream's
lifetime, and applies alone to mappings that keep their values for ever.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.endpoints import EndpointTrie
from schemas.interface import Interface
from schemas.mapping import DatabaseRetentionPolicy, Mapping


def mapping_ttl(mapping: Mapping) -> int:
    """Seconds a value of this mapping is kept; 0 for ever (``no_ttl``, or no ttl given)."""
    if mapping.database_retention_policy is not DatabaseRetentionPolicy.USE_TTL:
        return 0
    return mapping.database_retention_ttl or 0


@dataclass(frozen=True, slots=True)
class Retention:
    """The lifetimes of one interface's paths; object members share their object's mapping rules."""

    interface: Interface
    _trie: EndpointTrie = field(repr=False)
    _uniform: int | None = field(repr=False)
    cap: int = 0
    """The realm's ``datastream_maximum_storage_retention`` in seconds; 0 for none."""

    @classmethod
    def of(cls, interface: Interface, cap: int | None = None) -> Retention:
        cap = cap or 0
        ttls = {capped(mapping_ttl(m), cap) for m in interface.mappings}
        return cls(interface, EndpointTrie(interface), ttls.pop() if len(ttls) == 1 else None, cap)

    def seconds(self, path: str) -> int:
        """The ``ttl_seconds`` of a row stored at ``path`` (the cap when the path matches no mapping)."""
        if self._uniform is not None:
            return self._uniform
        if self._trie.is_object:
            prefix, _, member = path.rstrip("/").rpartition("/")
            match = self._trie.resolve_object(prefix or "/")
            mapping = match.mappings.get(member) if match is not None else None
        else:
            resolved = self._trie.resolve(path)
            mapping = resolved.mapping if resolved is not None else None
        return capped(mapping_ttl(mapping) if mapping is not None else 0, self.cap)


def capped(ttl: int, cap: int) -> int:
    """A lifetime bounded by a realm's maximum (0 means for ever on both sides)."""
    if cap <= 0:
        return ttl
    return cap if ttl == 0 else min(ttl, cap)
