"""A realm's dead letters (``/realmmanagement/v1/{realm}/dead-letters``): Headwater's own, not Astarte's.

Astarte has no such route. Device messages the broker refused and readings the worker
could not store go to ``hw.dlq`` with a reason; the worker keeps them in ClickHouse for
``clickhouse.dead_letters_ttl_days``. Listing reads them back, newest first; a replay
sends selected letters through the broker's validation again (so an interface installed
or fixed since lets them in) and onto the ingest topic, and marks them replayed.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from broker.ingest import judge
from broker.interfaces import InterfaceCache
from broker.topics import DeviceIdentity, TopicKind, route
from pipeline.api.auth import Caller
from pipeline.api.models import Envelope
from pipeline.api.readopts import parse_time
from pipeline.errors import BadRequestError, NotFoundError
from pipeline.kafka import device_partition
from pipeline.store.dead_letters import MAX_LETTERS, StoredLetter, mark_replayed, recent_letters
from schemas.payload import Rejection
from schemas.records import ingest_batches

if TYPE_CHECKING:
    from pipeline.api.app import Platform

router = APIRouter(tags=["dead letters (Headwater, not in Astarte)"])


@router.get("/dead-letters")
async def list_dead_letters(
    request: Request,
    realm: str,
    _caller: Caller,
    device_id: str | None = None,
    since: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LETTERS)] = 100,
) -> dict[str, Any]:
    """The realm's latest dead letters, newest first (Headwater's route; Astarte has none).

    Each has its reason and detail, device, interface, path, topic, the payload in base64
    (and as text when it is), when it was received and when it was replayed. ``device_id``
    and ``since`` (ISO 8601, inclusive) narrow the list.
    """
    platform = request.app.state.platform
    await platform.registry.get_realm(realm)  # NotFoundError for an unknown realm
    letters = await recent_letters(
        platform.store, realm=realm, device_id=device_id, since=parse_time("since", since), limit=limit
    )
    return {"data": [letter.to_json() for letter in letters]}


class ReplaySelection(BaseModel):
    """Which dead letters to replay: by id, or the latest matching the filters (not replayed yet)."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str] | None = None
    device_id: str | None = None
    since: str | None = None
    limit: int = Field(default=100, ge=1, le=MAX_LETTERS)


@router.post("/dead-letters/replay")
async def replay_dead_letters(
    request: Request, realm: str, body: Envelope[ReplaySelection], _caller: Caller
) -> dict[str, Any]:
    """Validate selected dead letters again as device messages; those now valid go to ingest.

    Answers how many were replayed and, for each refused again, why. Letters already
    replayed are skipped unless named by id.
    """
    platform = request.app.state.platform
    await platform.registry.get_realm(realm)
    selection = body.data
    ids = _ids(selection.ids)
    letters = await recent_letters(
        platform.store,
        realm=realm,
        device_id=selection.device_id,
        since=parse_time("since", selection.since),
        ids=ids,
        limit=selection.limit if ids is None else len(ids),
    )
    if ids is None:
        letters = [letter for letter in letters if not letter.replayed_at]
    interfaces = InterfaceCache(platform.registry)
    await interfaces.reload_realm(realm)
    partitions = len(await platform.producer.partitions_for(platform.topics.ingest))
    replayed: list[StoredLetter] = []
    refused: list[dict[str, str]] = []
    for letter in letters:
        why = await _replay(platform, interfaces, letter, partitions)
        if why is None:
            replayed.append(letter)
        else:
            refused.append({"id": str(letter.letter_id), "reason": why[0], "detail": why[1]})
    await mark_replayed(platform.store, replayed)
    return {"data": {"replayed": len(replayed), "refused": refused}}


def _ids(ids: list[str] | None) -> list[int] | None:
    if ids is None:
        return None
    try:
        parsed = [int(i) for i in ids]
    except ValueError as exc:
        raise BadRequestError(f"dead-letter ids are numbers: {exc}") from exc
    if not parsed or any(not 0 <= i < 2**63 for i in parsed):
        raise BadRequestError("ids must name at least one dead letter, each a 63-bit number")
    return parsed


async def _replay(
    platform: Platform, interfaces: InterfaceCache, letter: StoredLetter, partitions: int
) -> tuple[str, str] | None:
    """Send one letter through validation to ingest; why not, when it is refused again."""
    if not letter.device_id:
        return "not_a_device_message", "the letter has no device"
    try:
        await platform.registry.get_device(letter.realm, letter.device_id)
    except NotFoundError:
        return "device_not_found", f"device {letter.device_id} is not registered in realm {letter.realm}"
    identity = DeviceIdentity(letter.realm, letter.device_id)
    where = route(identity, letter.topic)
    if where.kind is not TopicKind.DATA:
        return "not_a_data_message", f"{letter.topic} is not a data topic of the device"
    declared = await platform.registry.device_introspection(letter.realm, letter.device_id)
    outcome = judge(interfaces, identity, where, letter.payload, letter.received_at, declared=declared)
    if isinstance(outcome, Rejection):
        return outcome.error.value, outcome.detail
    now = time.time_ns() // 1000
    batch = ingest_batches().encode(
        {
            "batch_id": f"replay-{uuid.uuid4().hex}",
            "id_base": letter.letter_id,  # a letter replayed twice is one reading
            "broker_id": platform.instance_id or "api",
            "produced_at": now,
            "readings": [outcome],
        }
    )
    partition = device_partition(letter.realm, letter.device_id, partitions)
    await platform.producer.send_and_wait(platform.topics.ingest, batch, partition=partition)
    return None
