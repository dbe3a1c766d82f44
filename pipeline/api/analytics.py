"""For analysts, beyond Astarte: aggregates, streamed exports and read-only SQL (``/appengine/v1/{realm}``).

- ``GET .../devices/{id}/interfaces/{iface}/{path}/aggregates`` and ``.../export`` work on one
  device's path; ``GET .../interfaces/{iface}/{path}/aggregates`` and ``.../export`` on several
  devices: a group's (``group=name``) or a list (``devices=a,b,c``).
- ``POST .../sql`` with ``{"query": "SELECT ..."}`` (or ``GET .../sql?query=``) runs a read-only
  query restricted to the realm's rows; see ``pipeline.store.realmsql``.

A path is an individual mapping or an object member (``/<object prefix>/<member>``). Windows
take ``since``, ``since_after``, ``to`` and ``limit`` as path reads do. When an interface really
has a mapping ending in ``/aggregates`` or ``/export``, that path is served as data.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from pipeline.api import appengine
from pipeline.api.auth import Caller
from pipeline.api.exportfmt import MEDIA_TYPES, Encoder
from pipeline.api.readopts import ReadOptions, parse_options
from pipeline.errors import BadRequestError, NotFoundError
from pipeline.registry.groups import Groups
from pipeline.registry.status import DeviceStatusBook
from pipeline.store.aggregates import FUNCTIONS, aggregate
from pipeline.store.downsample import NUMERIC
from pipeline.store.export import Selection, chunks
from pipeline.store.realmsql import run_realm_sql
from schemas.endpoints import EndpointTrie
from schemas.interface import Interface, InterfaceType

router = APIRouter(tags=["analytics"])

_INTERVAL = re.compile(r"^(\d+)(us|ms|s|m|h|d|w)$")
_UNIT: Final = {"us": 1, "ms": 1000, "s": 10**6, "m": 60 * 10**6, "h": 3600 * 10**6, "d": 86400 * 10**6}
_UNIT["w"] = 7 * _UNIT["d"]
MAX_DEVICES: Final = 1000
_DEVICE_READ = "/devices/{device_id}/interfaces/{interface}/{path:path}"
_GROUP_READ = "/interfaces/{interface}/{path:path}"


def parse_interval(text: str | None) -> int:
    """``30s``, ``1m``, ``500ms``, ``1h``, ``1d``, ``1w``... as microseconds; 400 when malformed."""
    if text is None:
        raise BadRequestError("interval is required, e.g. interval=1m (units: us, ms, s, m, h, d, w)")
    found = _INTERVAL.match(text.strip())
    if found is None or int(found[1]) == 0:
        raise BadRequestError(
            f"interval={text!r} must be a positive number with a unit: us, ms, s, m, h, d, w"
        )
    return int(found[1]) * _UNIT[found[2]]


def parse_functions(text: str | None) -> list[str]:
    """The requested aggregate functions in the given order (all when not given)."""
    if text is None:
        return list(FUNCTIONS)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FUNCTIONS]
    if unknown or not names:
        raise BadRequestError(f"functions={text!r}: choose among {', '.join(FUNCTIONS)}")
    return list(dict.fromkeys(names))


def parse_devices(text: str | None) -> list[str]:
    """``devices=a,b,c``: the device ids of a group read."""
    devices = list(dict.fromkeys(d.strip() for d in (text or "").split(",") if d.strip()))
    if not devices:
        raise BadRequestError("devices is required: a comma-separated list of device ids")
    if len(devices) > MAX_DEVICES:
        raise BadRequestError(f"devices names {len(devices)} devices; at most {MAX_DEVICES}")
    return devices


def value_type_at(definition: Interface, path: str) -> str:
    """The mapping type of an individual path or an object member path; 404 when none matches."""
    if definition.type is InterfaceType.PROPERTIES:
        raise BadRequestError(f"{definition.name} is a properties interface: it has no time series")
    trie = EndpointTrie(definition)
    if trie.is_object:
        prefix, _, member = path.rstrip("/").rpartition("/")
        match = trie.resolve_object(prefix or "/")
        mapping = match.mappings.get(member) if match is not None else None
        if mapping is None:
            raise NotFoundError(f"path {path!r} is no member of an object of {definition.name}")
        return mapping.type.value
    resolved = trie.resolve(path)
    if resolved is None:
        raise NotFoundError(f"path {path!r} matches no mapping of {definition.name}")
    return resolved.mapping.type.value


def _options(request: Request) -> ReadOptions:
    # ``format`` means the file format here, not Astarte's answer shape.
    return parse_options({k: v for k, v in request.query_params.items() if k != "format"})


async def _devices(request: Request, realm: str) -> list[str]:
    """The devices of a multi-device read: ``group=name`` or ``devices=a,b,c``."""
    query = request.query_params
    if "group" in query and "devices" in query:
        raise BadRequestError("give group or devices, not both")
    if "group" not in query:
        return parse_devices(query.get("devices"))
    members = await Groups(request.app.state.platform.registry).members(realm, query["group"])
    if len(members) > MAX_DEVICES:
        raise BadRequestError(f"group {query['group']!r} has {len(members)} devices; at most {MAX_DEVICES}")
    return members


async def _group_interface(request: Request, realm: str, name: str, devices: list[str]) -> Interface:
    """The interface at ``major=`` (default: the highest installed), after checking every device exists."""
    registry = request.app.state.platform.registry
    book = DeviceStatusBook(registry)
    for device_id in devices:
        await book.status(realm, device_id)  # NotFoundError for a stranger
    try:
        majors = await registry.interface_majors(realm, name)
    except NotFoundError:
        raise NotFoundError(f"interface {name!r} is not installed in realm {realm!r}") from None
    text = request.query_params.get("major")
    if text is None:
        major = max(majors)
    elif text.isdigit() and int(text) in majors:
        major = int(text)
    else:
        raise BadRequestError(f"major={text!r} is not an installed major of {name} ({sorted(majors)})")
    interface: Interface = await registry.get_interface(realm, name, major)
    return interface


def _shadowed(definition: Interface, path: str, suffix: str) -> bool:
    """Whether ``<path>/<suffix>`` is a real individual path of the interface (then it is data)."""
    if definition.is_object or definition.type is InterfaceType.PROPERTIES:
        return False
    trie = EndpointTrie(definition)
    return trie.resolve(f"{path}/{suffix}") is not None and trie.resolve(path) is None


# aggregates


async def _aggregates(
    request: Request, realm: str, devices: list[str], definition: Interface, path: str, *, group: bool
) -> dict[str, Any]:
    query = request.query_params
    opts = _options(request)
    interval = parse_interval(query.get("interval"))
    functions = parse_functions(query.get("functions"))
    value_type = value_type_at(definition, path)
    if value_type not in NUMERIC:
        raise BadRequestError(
            f"aggregates need a numeric mapping (double, integer, longinteger), not {value_type}"
        )
    by_device = group and query.get("by_device", "false").lower() in ("true", "1", "yes")
    buckets = await aggregate(
        request.app.state.platform.store,
        realm=realm,
        devices=devices,
        interface=definition.name,
        major=definition.major,
        path=path,
        value_type=value_type,
        window=opts.window,
        interval=interval,
        functions=functions,
        by_device=by_device,
    )
    sum_type = "longinteger" if value_type != "double" else "double"
    data = []
    for bucket in buckets:
        entry: dict[str, Any] = {"timestamp": opts.time(bucket.start)}
        if bucket.device_id is not None:
            entry["device_id"] = bucket.device_id
        for name, value in bucket.values.items():
            if name in ("avg", "count"):
                entry[name] = value
            else:
                entry[name] = opts.value(sum_type if name == "sum" else value_type, value)
        data.append(entry)
    metadata = {"interval": query.get("interval"), "functions": functions, "value_type": value_type}
    if group:
        metadata["devices"] = devices
    return {"data": data, "metadata": metadata}


@router.get(_DEVICE_READ + "/aggregates")
async def device_aggregates(
    request: Request, realm: str, device_id: str, interface: str, path: str, caller: Caller
) -> Any:
    """avg, min, max, sum, count, first, last per ``interval`` (``1m``, ``1h``...) of a numeric path.

    ``functions=avg,max`` picks some; ``since``, ``since_after``, ``to`` bound the window and
    ``limit`` counts buckets (without a lower bound: the latest ones); ``keep_milliseconds``,
    ``allow_bigintegers`` and ``allow_safe_bigintegers`` as in path reads.
    """
    definition = await appengine._interface(request, realm, device_id, interface)
    path = "/" + path.strip("/")
    if _shadowed(definition, path, "aggregates"):
        return await appengine.path_values(request, realm, device_id, interface, path + "/aggregates", caller)
    return await _aggregates(request, realm, [device_id], definition, path, group=False)


@router.get(_GROUP_READ + "/aggregates")
async def group_aggregates(request: Request, realm: str, interface: str, path: str, _caller: Caller) -> Any:
    """Aggregates over several devices (``devices=a,b,c``) together, or each (``by_device=true``).

    ``major=`` picks the interface major (default: the highest installed).
    """
    devices = await _devices(request, realm)
    definition = await _group_interface(request, realm, interface, devices)
    return await _aggregates(request, realm, devices, definition, "/" + path.strip("/"), group=True)


# exports


def _export(
    request: Request, realm: str, devices: list[str], definition: Interface, path: str
) -> StreamingResponse:
    fmt = request.query_params.get("format", "csv")
    if fmt not in MEDIA_TYPES:
        raise BadRequestError(f"format={fmt!r} must be one of {', '.join(MEDIA_TYPES)}")
    opts = _options(request)
    value_type = value_type_at(definition, path)
    selection = Selection(realm, devices, definition.name, definition.major, path, value_type)
    store = request.app.state.platform.store
    total = opts.window.limit if opts.limited else None

    async def body() -> AsyncIterator[bytes]:
        encoder = Encoder(fmt, value_type)
        async for rows in chunks(store, selection, opts.window, total=total):
            yield encoder.feed(rows)
        yield encoder.finish()

    name = f"{devices[0] if len(devices) == 1 else realm}-{definition.name}{path.replace('/', '_')}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(body(), media_type=MEDIA_TYPES[fmt], headers=headers)


@router.get(_DEVICE_READ + "/export", response_model=None)
async def device_export(
    request: Request, realm: str, device_id: str, interface: str, path: str, caller: Caller
) -> Any:
    """The window of one path as ``format=csv`` (default), ``parquet`` or ``arrow`` (IPC stream), streamed.

    Columns: device_id, timestamp, reception_timestamp, value (typed by the mapping). ``since``,
    ``since_after``, ``to`` bound the window (the whole series without them); ``limit`` caps rows.
    """
    definition = await appengine._interface(request, realm, device_id, interface)
    path = "/" + path.strip("/")
    if _shadowed(definition, path, "export"):
        return await appengine.path_values(request, realm, device_id, interface, path + "/export", caller)
    return _export(request, realm, [device_id], definition, path)


@router.get(_GROUP_READ + "/export", response_model=None)
async def group_export(request: Request, realm: str, interface: str, path: str, _caller: Caller) -> Any:
    """The window of one path for several devices (``devices=a,b,c``), in time order, streamed."""
    devices = await _devices(request, realm)
    definition = await _group_interface(request, realm, interface, devices)
    return _export(request, realm, devices, definition, "/" + path.strip("/"))


# SQL


class SqlQuery(BaseModel):
    """A read-only query; ``{db}`` stands for the Headwater database."""

    query: str


async def _sql(request: Request, realm: str, query: str) -> dict[str, Any]:
    platform = request.app.state.platform
    result = await run_realm_sql(platform.store, realm, query, limits=platform.sql)
    return {"data": {"columns": result.columns, "rows": result.rows, "truncated": result.truncated}}


@router.post("/sql")
async def realm_sql(request: Request, realm: str, body: SqlQuery, _caller: Caller) -> dict[str, Any]:
    """Run one SELECT over the realm's rows of ``{db}.individual_datastreams`` and ``{db}.properties``.

    Read-only (``readonly=1``); every read of those tables is filtered to this realm; other
    tables, ``SETTINGS``, ``FORMAT``, functions reading files and table functions generating
    data (``numbers``...) are refused. It runs apart from ingest, within the ``sql`` settings'
    limits (time, memory, rows and bytes read); at most 10 000 rows by default (``truncated``
    says when more matched). Bad SQL, or a query past a limit, is a 400 with ClickHouse's
    message; 429 when every SQL lane stays busy. Answer:
    ``{"data": {"columns": [{"name", "type"}], "rows": [[...]], "truncated": false}}``.
    On a ClickHouse server, also give the API a per-realm read-only user with row policies.
    """
    return await _sql(request, realm, body.query)


@router.get("/sql")
async def realm_sql_get(request: Request, realm: str, query: str, _caller: Caller) -> dict[str, Any]:
    """The same as ``POST .../sql``, with the query in ``?query=`` (for viewers and quick links)."""
    return await _sql(request, realm, query)
