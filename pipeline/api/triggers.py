"""Triggers, delivery policies and trigger dead letters (``/realmmanagement/v1/{realm}``).

Every change is announced on the registry topic; the evaluation and delivery
topologies reload what changed, so a trigger takes effect within a second.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict

from pipeline.api.auth import Caller
from pipeline.api.models import Envelope
from pipeline.changes import announce
from pipeline.registry.triggers import TriggerBook
from schemas.records import trigger_events
from schemas.trigger_records import event_body, public_record

router = APIRouter(tags=["triggers"])


def _book(request: Request) -> TriggerBook:
    return TriggerBook(request.app.state.platform.registry)


@router.get("/triggers/dead-letters")
async def list_dead_letters(
    request: Request, realm: str, _caller: Caller, limit: int = 1000
) -> dict[str, Any]:
    """Trigger events that could not be delivered, oldest first, with the reason."""
    codec = trigger_events()
    letters = await _book(request).dead_letters(realm, limit=max(1, min(limit, 10_000)))
    return {
        "data": [
            {
                "event_id": letter.event_id,
                "trigger_name": letter.trigger_name,
                "reason": letter.reason,
                "dead_at": letter.dead_at,
                "body": event_body(codec.decode(letter.record)),
            }
            for letter in letters
        ]
    }


@router.post("/triggers/dead-letters/replay")
async def replay_dead_letters(request: Request, realm: str, _caller: Caller) -> dict[str, Any]:
    """Queue every dead letter of the realm for delivery again; they leave the dead-letter list."""
    platform = request.app.state.platform
    book = _book(request)
    codec = trigger_events()
    letters = await book.dead_letters(realm, limit=10_000)
    now_us = time.time_ns() // 1000
    for letter in letters:
        record = public_record(codec.decode(letter.record), now_us=now_us)
        await platform.producer.send_and_wait(
            platform.topics.trigger_events,
            codec.encode(record),
            key=f"{realm}/{letter.trigger_name}".encode(),
        )
    await book.forget_dead_letters(realm, [letter.event_id for letter in letters])
    return {"data": {"replayed": len(letters)}}


@router.get("/triggers")
async def list_triggers(request: Request, realm: str, _caller: Caller) -> dict[str, Any]:
    """Installed trigger names."""
    return {"data": await _book(request).trigger_names(realm)}


@router.post("/triggers", status_code=201)
async def install_trigger(
    request: Request, realm: str, body: Envelope[dict[str, Any]], _caller: Caller
) -> dict[str, Any]:
    """Install a trigger; 409 when the name is taken, 422 with the reason when it is invalid."""
    platform = request.app.state.platform
    trigger = await _book(request).install_trigger(realm, body.data)
    await announce(platform.producer, platform.topics.registry, "trigger", realm, trigger.name)
    return {"data": trigger.to_json()}


@router.get("/triggers/{name}")
async def get_trigger(request: Request, realm: str, name: str, _caller: Caller) -> dict[str, Any]:
    trigger = await _book(request).get_trigger(realm, name)
    return {"data": trigger.to_json()}


@router.delete("/triggers/{name}", status_code=204)
async def delete_trigger(request: Request, realm: str, name: str, _caller: Caller) -> Response:
    platform = request.app.state.platform
    await _book(request).delete_trigger(realm, name)
    await announce(platform.producer, platform.topics.registry, "trigger", realm, name)
    return Response(status_code=204)


@router.get("/policies")
async def list_policies(request: Request, realm: str, _caller: Caller) -> dict[str, Any]:
    """Installed delivery policy names."""
    return {"data": await _book(request).policy_names(realm)}


@router.post("/policies", status_code=201)
async def install_policy(
    request: Request, realm: str, body: Envelope[dict[str, Any]], _caller: Caller
) -> dict[str, Any]:
    """Install a delivery policy; 409 when the name is taken, 422 with the reason when it is invalid."""
    platform = request.app.state.platform
    policy = await _book(request).install_policy(realm, body.data)
    await announce(platform.producer, platform.topics.registry, "policy", realm, policy.name)
    return {"data": policy.to_json()}


class DefaultPolicy(BaseModel):
    """The policy of triggers that name none; null for Astarte's (one attempt, failures discarded)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None


@router.get("/config/default-policy")
async def get_default_policy(request: Request, realm: str, _caller: Caller) -> dict[str, Any]:
    """The realm's default delivery policy (``{"name": null}`` when it has none of its own)."""
    realm_record = await request.app.state.platform.registry.get_realm(realm)
    return {"data": {"name": realm_record.default_policy}}


@router.put("/config/default-policy")
async def set_default_policy(
    request: Request, realm: str, body: Envelope[DefaultPolicy], _caller: Caller
) -> dict[str, Any]:
    """Name an installed policy as the default for triggers without one (404 if it is not installed)."""
    platform = request.app.state.platform
    await _book(request).set_default_policy(realm, body.data.name)
    await announce(platform.producer, platform.topics.registry, "policy", realm, body.data.name or "")
    return {"data": {"name": body.data.name}}


@router.get("/policies/{name}")
async def get_policy(request: Request, realm: str, name: str, _caller: Caller) -> dict[str, Any]:
    policy = await _book(request).get_policy(realm, name)
    return {"data": policy.to_json()}


@router.delete("/policies/{name}", status_code=204)
async def delete_policy(request: Request, realm: str, name: str, _caller: Caller) -> Response:
    """Delete a delivery policy; 409 while a trigger uses it."""
    platform = request.app.state.platform
    await _book(request).delete_policy(realm, name)
    await announce(platform.producer, platform.topics.registry, "policy", realm, name)
    return Response(status_code=204)
