"""The broker's view of installed interfaces, compiled for the per-reading hot path.

Loaded from the registry at start and reloaded per realm when a registry change
arrives on the registry topic, so a newly installed interface is usable within
a second, without restart.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from schemas.payload import CompiledInterface

if TYPE_CHECKING:
    from pipeline.registry import Registry

log = logging.getLogger(__name__)


class InterfaceCache:
    """``(realm, interface name)`` to the compiled interface of its highest installed major."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._by_realm: dict[str, dict[str, CompiledInterface]] = {}

    def get(self, realm: str, name: str) -> CompiledInterface | None:
        realm_interfaces = self._by_realm.get(realm)
        return realm_interfaces.get(name) if realm_interfaces else None

    async def load_all(self) -> None:
        by_realm: dict[str, dict[str, CompiledInterface]] = {}
        for realm, interface in await self._registry.interfaces():
            _keep_highest(by_realm.setdefault(realm, {}), CompiledInterface(interface))
        self._by_realm = by_realm
        log.info("loaded %d interfaces", sum(len(v) for v in by_realm.values()))

    async def reload_realm(self, realm: str) -> None:
        compiled: dict[str, CompiledInterface] = {}
        for _, interface in await self._registry.interfaces(realm):
            _keep_highest(compiled, CompiledInterface(interface))
        self._by_realm[realm] = compiled


def _keep_highest(into: dict[str, CompiledInterface], compiled: CompiledInterface) -> None:
    current = into.get(compiled.name)
    if current is None or compiled.major > current.major:
        into[compiled.name] = compiled
