"""AppEngine: device data (``/appengine/v1/{realm}``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from pipeline.api.auth import Caller
from pipeline.errors import BadRequestError, NotFoundError
from pipeline.store.readings import EPOCH, MAX_LIMIT, Sample, latest_samples, path_samples

router = APIRouter(tags=["appengine"])


def parse_time(name: str, value: str | None) -> int | None:
    """An ISO 8601 query parameter as microseconds since the epoch; 400-class error when malformed."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequestError(f"{name}={value!r} is not an ISO 8601 date-time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(microseconds=1)


def nest(samples: list[Sample]) -> dict[str, Any]:
    """Latest samples as a tree keyed by path segments, as Astarte shows an interface snapshot."""
    tree: dict[str, Any] = {}
    for sample in samples:
        *parents, leaf = sample.path.strip("/").split("/")
        node = tree
        for segment in parents:
            node = node.setdefault(segment, {})
        node[leaf] = sample.to_json()
    return tree


async def _check(request: Request, realm: str, device_id: str, interface: str) -> None:
    registry = request.app.state.platform.registry
    await registry.get_device(realm, device_id)
    names = {installed.name for _, installed in await registry.interfaces(realm)}
    if interface not in names:
        raise NotFoundError(f"interface {interface!r} is not installed in realm {realm!r}")


@router.get("/devices/{device_id}/interfaces/{interface}")
async def interface_snapshot(
    request: Request, realm: str, device_id: str, interface: str, _caller: Caller
) -> dict[str, Any]:
    """The latest value of every endpoint of a device's interface."""
    await _check(request, realm, device_id, interface)
    samples = await latest_samples(
        request.app.state.platform.store, realm=realm, device_id=device_id, interface=interface
    )
    return {"data": nest(samples)}


@router.get("/devices/{device_id}/interfaces/{interface}/{path:path}")
async def path_values(
    request: Request,
    realm: str,
    device_id: str,
    interface: str,
    path: str,
    _caller: Caller,
    since: str | None = None,
    since_after: str | None = None,
    to: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = MAX_LIMIT,
) -> dict[str, Any]:
    """Values of one path, oldest first; ``limit`` without ``since`` gives the latest ones."""
    await _check(request, realm, device_id, interface)
    if since is not None and since_after is not None:
        raise BadRequestError("since and since_after cannot be used together")
    samples = await path_samples(
        request.app.state.platform.store,
        realm=realm,
        device_id=device_id,
        interface=interface,
        path="/" + path.strip("/"),
        since=parse_time("since", since),
        since_after=parse_time("since_after", since_after),
        to=parse_time("to", to),
        limit=limit,
    )
    return {"data": [sample.to_json() for sample in samples]}
