"""Triggers, delivery policies and undeliverable trigger events of each realm, in the registry.

Definitions are stored as their Astarte JSON and parsed on the way out, so what
the API shows is what the evaluation and delivery topologies load.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from pipeline.errors import ConflictError, NotFoundError, ValidationError
from pipeline.registry.tables import delivery_policies, trigger_dead_letters, triggers
from schemas.policies import DeliveryPolicy, parse_policy
from schemas.trigger_errors import TriggerError
from schemas.trigger_index import TriggerIndex
from schemas.triggers import Trigger, parse_trigger

if TYPE_CHECKING:
    from pipeline.registry import Registry


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A trigger event that could not be delivered, with why."""

    realm: str
    event_id: str
    trigger_name: str
    reason: str
    record: bytes
    dead_at: int


class TriggerBook:
    """Install, read and delete a realm's triggers and policies; keep dead-lettered trigger events."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def install_trigger(self, realm: str, data: object) -> Trigger:
        """Validate (against the realm's interfaces and policies) and install a trigger."""
        await self._registry.get_realm(realm)
        try:
            trigger = parse_trigger(data)
            interfaces = [i for _, i in await self._registry.interfaces(realm)]
            TriggerIndex().add(realm, trigger, interfaces=interfaces)  # every check the evaluator makes
        except TriggerError as exc:
            raise ValidationError(str(exc)) from exc
        if trigger.policy is not None and await self._policy_row(realm, trigger.policy) is None:
            raise ValidationError(
                f"policy: delivery policy {trigger.policy!r} does not exist in realm {realm}"
            )
        row = {
            "realm": realm,
            "name": trigger.name,
            "definition": _json(trigger.to_json()),
            "policy": trigger.policy,
            "installed_at": _now_us(),
        }
        try:
            async with self._registry.engine.begin() as conn:
                await conn.execute(triggers.insert().values(**row))
        except IntegrityError as exc:
            raise ConflictError(f"trigger {trigger.name!r} already exists in realm {realm}") from exc
        return trigger

    async def trigger_names(self, realm: str) -> list[str]:
        await self._registry.get_realm(realm)
        query = select(triggers.c.name).where(triggers.c.realm == realm).order_by(triggers.c.name)
        async with self._registry.engine.connect() as conn:
            return [row.name for row in await conn.execute(query)]

    async def get_trigger(self, realm: str, name: str) -> Trigger:
        found = await self.find_trigger(realm, name)
        if found is None:
            raise NotFoundError(f"trigger {name!r} not found in realm {realm}")
        return found

    async def find_trigger(self, realm: str, name: str) -> Trigger | None:
        query = select(triggers.c.definition).where(triggers.c.realm == realm, triggers.c.name == name)
        async with self._registry.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else parse_trigger(row.definition)

    async def all_triggers(self, realm: str | None = None) -> list[tuple[str, Trigger]]:
        """``(realm, trigger)`` of every installed trigger (of one realm when given), oldest first."""
        query = select(triggers.c.realm, triggers.c.definition).order_by(triggers.c.installed_at)
        if realm is not None:
            query = query.where(triggers.c.realm == realm)
        async with self._registry.engine.connect() as conn:
            return [(row.realm, parse_trigger(row.definition)) for row in await conn.execute(query)]

    async def delete_trigger(self, realm: str, name: str) -> None:
        await self._registry.get_realm(realm)
        async with self._registry.engine.begin() as conn:
            result = await conn.execute(
                delete(triggers).where(triggers.c.realm == realm, triggers.c.name == name)
            )
        if result.rowcount == 0:
            raise NotFoundError(f"trigger {name!r} not found in realm {realm}")

    async def install_policy(self, realm: str, data: object) -> DeliveryPolicy:
        await self._registry.get_realm(realm)
        try:
            policy = parse_policy(data)
        except TriggerError as exc:
            raise ValidationError(str(exc)) from exc
        row = {
            "realm": realm,
            "name": policy.name,
            "definition": _json(policy.to_json()),
            "installed_at": _now_us(),
        }
        try:
            async with self._registry.engine.begin() as conn:
                await conn.execute(delivery_policies.insert().values(**row))
        except IntegrityError as exc:
            raise ConflictError(f"delivery policy {policy.name!r} already exists in realm {realm}") from exc
        return policy

    async def policy_names(self, realm: str) -> list[str]:
        await self._registry.get_realm(realm)
        query = (
            select(delivery_policies.c.name)
            .where(delivery_policies.c.realm == realm)
            .order_by(delivery_policies.c.name)
        )
        async with self._registry.engine.connect() as conn:
            return [row.name for row in await conn.execute(query)]

    async def get_policy(self, realm: str, name: str) -> DeliveryPolicy:
        found = await self.find_policy(realm, name)
        if found is None:
            raise NotFoundError(f"delivery policy {name!r} not found in realm {realm}")
        return found

    async def find_policy(self, realm: str, name: str) -> DeliveryPolicy | None:
        definition = await self._policy_row(realm, name)
        return None if definition is None else parse_policy(definition)

    async def set_default_policy(self, realm: str, name: str | None) -> None:
        """Make an installed policy the realm's default for triggers naming none (None: Astarte's)."""
        if name is not None:
            await self.get_policy(realm, name)
        await self._registry.update_realm(realm, default_policy=name)

    async def delete_policy(self, realm: str, name: str) -> None:
        """Delete a policy; 409 while a trigger names it or it is the realm's default."""
        if (await self._registry.get_realm(realm)).default_policy == name:
            raise ConflictError(f"delivery policy {name!r} is realm {realm}'s default; change that first")
        async with self._registry.engine.begin() as conn:
            users = (
                await conn.execute(
                    select(triggers.c.name).where(triggers.c.realm == realm, triggers.c.policy == name)
                )
            ).all()
            if users:
                names = ", ".join(sorted(row.name for row in users))
                raise ConflictError(f"delivery policy {name!r} is used by trigger(s) {names}")
            result = await conn.execute(
                delete(delivery_policies).where(
                    delivery_policies.c.realm == realm, delivery_policies.c.name == name
                )
            )
        if result.rowcount == 0:
            raise NotFoundError(f"delivery policy {name!r} not found in realm {realm}")

    async def _policy_row(self, realm: str, name: str) -> str | None:
        query = select(delivery_policies.c.definition).where(
            delivery_policies.c.realm == realm, delivery_policies.c.name == name
        )
        async with self._registry.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else str(row.definition)

    async def add_dead_letter(self, letter: DeadLetter) -> None:
        """Keep a dead letter (a replayed event that dies again replaces its earlier row)."""
        async with self._registry.engine.begin() as conn:
            await conn.execute(
                delete(trigger_dead_letters).where(
                    trigger_dead_letters.c.realm == letter.realm,
                    trigger_dead_letters.c.event_id == letter.event_id,
                )
            )
            await conn.execute(
                trigger_dead_letters.insert().values(
                    realm=letter.realm,
                    event_id=letter.event_id,
                    trigger_name=letter.trigger_name,
                    reason=letter.reason,
                    record=letter.record,
                    dead_at=letter.dead_at,
                )
            )

    async def dead_letters(self, realm: str, limit: int = 1000) -> list[DeadLetter]:
        """The realm's dead letters, oldest first."""
        await self._registry.get_realm(realm)
        query = (
            select(trigger_dead_letters)
            .where(trigger_dead_letters.c.realm == realm)
            .order_by(trigger_dead_letters.c.dead_at)
            .limit(limit)
        )
        async with self._registry.engine.connect() as conn:
            return [
                DeadLetter(
                    row.realm, row.event_id, row.trigger_name, row.reason, bytes(row.record), row.dead_at
                )
                for row in await conn.execute(query)
            ]

    async def forget_dead_letters(self, realm: str, event_ids: list[str]) -> None:
        async with self._registry.engine.begin() as conn:
            await conn.execute(
                delete(trigger_dead_letters).where(
                    trigger_dead_letters.c.realm == realm, trigger_dead_letters.c.event_id.in_(event_ids)
                )
            )


def _json(data: object) -> str:
    return json.dumps(data, separators=(",", ":"))
