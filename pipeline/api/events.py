"""A device's event log for operators (``/appengine/v1/{realm}/devices/{device_id}/events``).

Connections, disconnections, introspections, device errors and the rest, as the worker
stored them from hw.device-events; read only, beyond Astarte's API.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from pipeline.api.auth import Caller
from pipeline.api.readopts import parse_time
from pipeline.registry.status import DeviceStatusBook
from pipeline.store.events import device_event_log
from pipeline.store.readings import MAX_LIMIT, Window

router = APIRouter(tags=["appengine"])


@router.get("/devices/{device_id}/events")
async def device_events(
    request: Request,
    realm: str,
    device_id: str,
    _caller: Caller,
    since: str | None = None,
    to: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = MAX_LIMIT,
) -> dict[str, Any]:
    """The device's events, oldest first: from ``since`` (inclusive) to ``to`` (exclusive), ISO 8601;
    ``limit`` takes the first ones after ``since``, or the latest ones without it.
    """
    platform = request.app.state.platform
    await DeviceStatusBook(platform.registry).status(realm, device_id)  # NotFoundError for a stranger
    window = Window(since=parse_time("since", since), to=parse_time("to", to), limit=limit)
    events = await device_event_log(platform.store, realm=realm, device_id=device_id, window=window)
    return {"data": [event.to_json() for event in events]}
