"""What the store needs to know of an interface, and the worker's cache of it.

Ingest readings carry the mapping type, but not whether their interface holds
properties, nor the member types of an object; the persist topology asks this
cache, which loads interfaces lazily from the registry and forgets a realm when
the registry announces a change there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.errors import NotFoundError, RegistryUnavailableError
from pipeline.store.retention import Retention
from schemas.errors import HeadwaterError
from schemas.interface import Interface, InterfaceType

if TYPE_CHECKING:
    from pipeline.registry import Registry

log = logging.getLogger(__name__)

Key = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class Shape:
    """Storage-relevant facts of one interface major."""

    properties: bool
    is_object: bool
    member_types: dict[str, str] = field(default_factory=dict)
    """For objects: member key (last endpoint token) to its mapping type."""
    retention: Retention | None = field(default=None, compare=False)
    """The lifetime of rows at each path (database_retention_ttl)."""

    @classmethod
    def of(cls, interface: Interface, retention_cap: int | None = None) -> Shape:
        """The shape of an interface; ``retention_cap`` is its realm's maximum datastream lifetime."""
        members = {m.last_token: m.type.value for m in interface.mappings} if interface.is_object else {}
        retention = Retention.of(interface, retention_cap)
        return cls(interface.type is InterfaceType.PROPERTIES, interface.is_object, members, retention)


ShapeLookup = Callable[[str, str, int], "Shape | None"]


class InterfaceShapes:
    """``(realm, interface, major)`` to its ``Shape``; unknown interfaces are remembered as None."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._shapes: dict[Key, Shape | None] = {}

    def get(self, realm: str, interface: str, major: int) -> Shape | None:
        """The cached shape (None if unknown or not loaded); call ``load`` first."""
        return self._shapes.get((realm, interface, major))

    def put(self, realm: str, interface: Interface) -> None:
        """Cache an interface directly (tests, or a caller that already holds it)."""
        self._shapes[(realm, interface.name, interface.major)] = Shape.of(interface)

    async def load(self, keys: Iterable[Key]) -> None:
        """Load the shapes not cached yet; registry failures raise a retriable error."""
        caps: dict[str, int | None] = {}
        for key in set(keys) - self._shapes.keys():
            realm, name, major = key
            try:
                if realm not in caps:
                    caps[realm] = (await self._registry.get_realm(realm)).datastream_maximum_storage_retention
                interface = await self._registry.get_interface(realm, name, major)
                self._shapes[key] = Shape.of(interface, caps[realm])
            except NotFoundError:
                log.warning(
                    "interface %s v%d of realm %r is not installed; stored as individual", name, major, realm
                )
                self._shapes[key] = None
            except HeadwaterError:
                raise
            except Exception as exc:  # the driver's errors vary; they say the registry is away
                where = f"{name} v{major} in realm {realm!r}"
                raise RegistryUnavailableError(f"looking up {where}: {exc}") from exc

    def forget(self, realm: str) -> None:
        """Drop a realm's cached shapes; the next batch reloads them."""
        for key in [k for k in self._shapes if k[0] == realm]:
            del self._shapes[key]

    async def on_change(self, kind: str, realm: str, _name: str) -> None:
        """A ``ChangeFollower`` callback."""
        if kind in ("interface", "realm"):
            self.forget(realm)
