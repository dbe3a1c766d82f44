"""The installed triggers and delivery policies a worker evaluates and delivers with.

Loaded from the registry at start and kept current from registry notices
(``trigger``, ``policy``, ``interface``, ``realm``), so a created or deleted
trigger takes effect as soon as the notice arrives (well within a second).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

from pipeline.errors import NotFoundError
from pipeline.registry.groups import Groups
from schemas.policies import DEFAULT_POLICY, DeliveryPolicy
from schemas.trigger_errors import TriggerError
from schemas.trigger_index import TriggerIndex

if TYPE_CHECKING:
    from pipeline.registry import Registry
    from pipeline.registry.triggers import TriggerBook
    from schemas.triggers import Trigger

log = logging.getLogger(__name__)


_NO_GROUPS: frozenset[str] = frozenset()


class TriggerCatalog:
    """A ``TriggerIndex`` of every realm's triggers and a cache of their policies."""

    def __init__(self, registry: Registry, book: TriggerBook) -> None:
        self._registry = registry
        self._book = book
        self.index = TriggerIndex()
        self._per_realm: Counter[str] = Counter()
        self._policies: dict[tuple[str, str], DeliveryPolicy | None] = {}
        self._defaults: dict[str, str | None] = {}
        self._groups: dict[tuple[str, str], frozenset[str]] = {}

    async def load(self) -> None:
        """Install every trigger of every realm (start the notice follower first)."""
        for realm, trigger in await self._book.all_triggers():
            await self._install(realm, trigger)
        self._groups = await Groups(self._registry).memberships()
        log.info("trigger catalog holds %d triggers", len(self.index))

    def has_triggers(self, realm: str) -> bool:
        """False when nothing in the realm can fire, so its readings cost a dict lookup."""
        return self._per_realm[realm] > 0

    def groups_of(self, realm: str, device_id: str) -> frozenset[str]:
        """The groups a device belongs to (for group_name-scoped triggers)."""
        return self._groups.get((realm, device_id), _NO_GROUPS)

    def trigger(self, realm: str, name: str) -> Trigger | None:
        return self.index.get(realm, name)

    async def policy(self, realm: str, name: str | None) -> DeliveryPolicy:
        """The named policy; when none is named, the realm's default, else Astarte's (one attempt)."""
        if name is None:
            if realm not in self._defaults:
                try:
                    self._defaults[realm] = (await self._registry.get_realm(realm)).default_policy
                except NotFoundError:
                    self._defaults[realm] = None
            name = self._defaults[realm]
            if name is None:
                return DEFAULT_POLICY
        key = (realm, name)
        if key not in self._policies:
            self._policies[key] = await self._book.find_policy(realm, name)
        found = self._policies[key]
        return DEFAULT_POLICY if found is None else found

    async def on_change(self, kind: str, realm: str, name: str) -> None:
        """A registry notice: reload what it names."""
        if kind == "trigger":
            self._uninstall(realm, name)
            trigger = await self._book.find_trigger(realm, name)
            if trigger is not None:
                await self._install(realm, trigger)
        elif kind == "group":
            kept = {key: names for key, names in self._groups.items() if key[0] != realm}
            self._groups = kept | await Groups(self._registry).memberships(realm)
        elif kind == "policy":
            self._policies.pop((realm, name), None)
            self._defaults.pop(realm, None)
        elif kind in ("interface", "realm"):
            # Known values are typed by their interface: reinstall the realm's triggers.
            for trigger in self.index.triggers(realm):
                self._uninstall(realm, trigger.name)
            self._policies = {k: v for k, v in self._policies.items() if k[0] != realm}
            self._defaults.pop(realm, None)
            for found_realm, trigger in await self._book.all_triggers(realm):
                await self._install(found_realm, trigger)

    async def _install(self, realm: str, trigger: Trigger) -> None:
        interfaces = [interface for _, interface in await self._registry.interfaces(realm)]
        try:
            self.index.add(realm, trigger, interfaces=interfaces)
        except TriggerError as exc:
            log.warning("trigger %s of realm %s is not evaluated: %s", trigger.name, realm, exc)
            return
        self._per_realm[realm] += 1

    def _uninstall(self, realm: str, name: str) -> None:
        if self.index.remove(realm, name):
            self._per_realm[realm] -= 1
