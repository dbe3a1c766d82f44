"""AppEngine: device data (``/appengine/v1/{realm}``).

The interface (the device's introspected major, else the highest installed)
decides the shape: properties are a tree of values, individual datastreams a
time series per path, object datastreams a time series of objects per prefix.
Read options are in ``readopts``, answer shapes in ``answers``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from pipeline.api.answers import cut, object_answer, object_json, sample_answer, tree
from pipeline.api.auth import Caller
from pipeline.api.readopts import ReadOptions, parse_options, parse_time
from pipeline.errors import BadRequestError, NotFoundError
from pipeline.registry.status import DeviceStatusBook
from pipeline.store.downsample import NUMERIC, downsampled
from pipeline.store.objects import ObjectSample, latest_objects, path_objects
from pipeline.store.properties import property_values
from pipeline.store.readings import Sample, Window, latest_samples, path_samples
from schemas.endpoints import EndpointTrie
from schemas.interface import Interface, InterfaceType

__all__ = ["nest", "parse_time", "router"]

router = APIRouter(tags=["appengine"])

# Objects give longintegers as strings, in snapshots too, as Astarte's do.
OBJECTS = ReadOptions()


def nest(samples: list[Sample]) -> dict[str, Any]:
    """Latest samples as a tree keyed by path segments, as Astarte shows an interface snapshot."""
    return tree((sample.path, sample.to_json()) for sample in samples)


# How long a read waits for the device's data already in Kafka to be stored (the SDKs' calls time
# out after a second).
FRESHNESS_WAIT = 0.5


async def _caught_up(request: Request, realm: str, device_id: str) -> None:
    """Let the persist worker of this process store what the device sent before this read."""
    caught_up = request.app.state.platform.caught_up
    if caught_up is not None:
        await caught_up(realm, device_id, FRESHNESS_WAIT)


async def _interface(request: Request, realm: str, device_id: str, name: str) -> Interface:
    """The interface as this device uses it: its introspection's major if installed, else the highest.

    As in Astarte, a device that declared its interfaces has data only on those: an interface it
    removed from its introspection answers 404 (its stored data is kept for when it comes back).
    """
    registry = request.app.state.platform.registry
    declared = await DeviceStatusBook(registry).introspection(realm, device_id)  # 404 for a stranger
    if declared is not None and name not in declared:
        raise NotFoundError(f"interface {name!r} is not in the introspection of device {device_id}")
    try:
        majors = await registry.interface_majors(realm, name)
    except NotFoundError:
        raise NotFoundError(f"interface {name!r} is not installed in realm {realm!r}") from None
    introspected = declared[name][0] if declared is not None else None
    major = introspected if introspected in majors else max(majors)
    interface: Interface = await registry.get_interface(realm, name, major)
    return interface


@router.get("/devices/{device_id}/interfaces")
async def device_interfaces(request: Request, realm: str, device_id: str, _caller: Caller) -> dict[str, Any]:
    """The names of the interfaces in the device's introspection, as Astarte lists them."""
    declared = await DeviceStatusBook(request.app.state.platform.registry).introspection(realm, device_id)
    return {"data": sorted(declared or {})}


@router.get("/devices/{device_id}/interfaces/{interface}")
async def interface_snapshot(
    request: Request, realm: str, device_id: str, interface: str, _caller: Caller
) -> dict[str, Any]:
    """Properties as a tree, datastreams' latest value per path, objects' latest object per prefix."""
    definition = await _interface(request, realm, device_id, interface)
    await _caught_up(request, realm, device_id)
    store = request.app.state.platform.store
    key: dict[str, Any] = {
        "realm": realm,
        "device_id": device_id,
        "interface": interface,
        "major": definition.major,
    }
    if definition.type is InterfaceType.PROPERTIES:
        return {"data": tree((p.path, p.value) for p in await property_values(store, **key))}
    if definition.is_object:
        return {"data": await _object_snapshot(store, key)}
    return {"data": nest(await latest_samples(store, **key))}


async def _object_snapshot(store: Any, key: dict[str, Any]) -> Any:
    """Astarte's object snapshot: with one object path, its objects (oldest first) under that path
    (the list itself for a root object); with several, the latest object of each, as a tree."""
    latest = await latest_objects(store, **key)
    if len(latest) != 1:
        return tree((o.prefix, object_json(o, OBJECTS)) for o in latest)
    prefix = latest[0].prefix
    history = await path_objects(store, **key, prefix=prefix, window=Window())
    objects = [object_json(o, OBJECTS) for o in history]
    return objects if prefix == "/" else tree([(prefix, objects)])


@router.get("/devices/{device_id}/interfaces/{interface}/{path:path}")
async def path_values(
    request: Request, realm: str, device_id: str, interface: str, path: str, _caller: Caller
) -> dict[str, Any]:
    """Values at a path: ``since``, ``since_after``, ``to``, ``limit``, ``downsample_to``,
    ``downsample_key``, ``format``, ``keep_milliseconds``, ``allow_bigintegers``,
    ``allow_safe_bigintegers`` as in Astarte; ``limit`` without a lower bound gives the latest
    values, and a page cut by ``limit`` links to the next one."""
    opts = parse_options(request.query_params)
    definition = await _interface(request, realm, device_id, interface)
    await _caught_up(request, realm, device_id)
    path = "/" + path.strip("/")
    key: dict[str, Any] = {
        "realm": realm,
        "device_id": device_id,
        "interface": interface,
        "major": definition.major,
    }
    store = request.app.state.platform.store
    if definition.type is InterfaceType.PROPERTIES:
        return await _properties(store, key, path)
    trie = EndpointTrie(definition)
    paged = opts.downsample_to is None and not opts.window.newest_first
    window = opts.window
    if paged:
        window = Window(window.since, window.since_after, window.to, window.limit + 1, window.offset)
    next_page: dict[str, str] | None = None
    if definition.is_object:
        match = trie.resolve_object(path)
        if match is None:
            raise NotFoundError(f"path {path!r} is not an object path of {interface}")
        types = {member: m.type.value for member, m in match.mappings.items()}
        objects = await _objects(store, key, path, types, window, opts)
        if paged:
            objects, next_page = cut(objects, opts.window.limit, window.since, window.offset)
        answer = object_answer(objects, list(types), opts)
    else:
        resolved = trie.resolve(path)
        if resolved is None:
            raise NotFoundError(f"path {path!r} matches no mapping of {interface}")
        if opts.downsample_key is not None:
            raise BadRequestError("downsample_key is only for object interfaces")
        value_type = resolved.mapping.type.value
        if opts.downsample_to is not None:
            samples = await downsampled(
                store,
                **key,
                path=path,
                value_type=_numeric(value_type),
                window=window,
                points=opts.downsample_to,
            )
        else:
            samples = await path_samples(
                store,
                **key,
                path=path,
                since=window.since,
                since_after=window.since_after,
                to=window.to,
                limit=window.limit,
                offset=window.offset,
            )
        if paged:
            samples, next_page = cut(samples, opts.window.limit, window.since, window.offset)
        answer = sample_answer(samples, path, opts)
    if next_page is not None:
        url = request.url.remove_query_params(["since", "since_after", "offset"])
        answer["links"] = {"self": str(request.url), "next": str(url.include_query_params(**next_page))}
    return answer


def _numeric(value_type: str) -> str:
    if value_type not in NUMERIC:
        raise BadRequestError(
            f"downsample_to needs a numeric mapping (double, integer, longinteger), not {value_type}"
        )
    return value_type


async def _objects(
    store: Any, key: dict[str, Any], path: str, types: dict[str, str], window: Window, opts: ReadOptions
) -> list[ObjectSample]:
    if opts.downsample_to is None:
        return await path_objects(store, **key, prefix=path, window=window)
    member = opts.downsample_key
    if member is None:
        raise BadRequestError("downsample_to on an object interface needs downsample_key")
    if member not in types:
        raise BadRequestError(f"downsample_key={member!r} is not a member of this object")
    value_type = _numeric(types[member])
    points = await downsampled(
        store,
        **key,
        path=f"{path.rstrip('/')}/{member}",
        value_type=value_type,
        window=window,
        points=opts.downsample_to,
    )
    return [ObjectSample(path, p.timestamp, None, {member: p.value}, {member: value_type}) for p in points]


async def _properties(store: Any, key: dict[str, Any], path: str) -> dict[str, Any]:
    found = await property_values(store, **key, prefix=path)
    if not found:
        raise NotFoundError(f"no property is set at {path!r}")
    if len(found) == 1 and found[0].path == path:
        return {"data": found[0].value}
    return {"data": tree((p.path.removeprefix(path), p.value) for p in found)}
