"""Astarte's answer shapes for stored data: structured, table and disjoint_tables; snapshot trees."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

from pipeline.api.readopts import ReadOptions, iso_micros
from pipeline.store.objects import ObjectSample
from pipeline.store.readings import Sample


class Timed(Protocol):
    @property
    def timestamp(self) -> int: ...


T = TypeVar("T", bound=Timed)


def tree(items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Values keyed by path, nested by path segment, as Astarte shows snapshots."""
    out: dict[str, Any] = {}
    for path, value in items:
        *parents, leaf = path.strip("/").split("/")
        node = out
        for segment in parents:
            node = node.setdefault(segment, {})
        node[leaf] = value
    return out


def sample_answer(samples: Sequence[Sample], path: str, opts: ReadOptions) -> dict[str, Any]:
    """Values of one individual path in the requested format."""
    if opts.format == "table":
        name = path.rstrip("/").rsplit("/", 1)[-1]
        rows = [[opts.time(s.timestamp), opts.value(s.value_type, s.value)] for s in samples]
        header = ["timestamp", name]
        return {"metadata": {"columns": {"timestamp": 0, name: 1}, "table_header": header}, "data": rows}
    if opts.format == "disjoint_tables":
        return {
            "data": {"value": [[opts.value(s.value_type, s.value), opts.time(s.timestamp)] for s in samples]}
        }
    data = []
    for s in samples:
        entry = {"value": opts.value(s.value_type, s.value), "timestamp": opts.time(s.timestamp)}
        if s.reception_timestamp is not None:
            entry["reception_timestamp"] = opts.time(s.reception_timestamp)
        data.append(entry)
    return {"data": data}


def object_json(obj: ObjectSample, opts: ReadOptions) -> dict[str, Any]:
    """One object as Astarte gives it: its members and its ``timestamp`` (the explicit one, else
    the reception time), and nothing else: any other key could be a member's name."""
    entry: dict[str, Any] = {"timestamp": opts.time(obj.timestamp)}
    for member, value in obj.values.items():
        entry[member] = opts.value(obj.types[member], value)
    return entry


def object_answer(
    objects: Sequence[ObjectSample], members: Sequence[str], opts: ReadOptions
) -> dict[str, Any]:
    """Objects of one prefix in the requested format; ``members`` orders table columns."""
    if opts.format == "table":
        present = [m for m in members if any(m in o.values for o in objects)]
        header = ["timestamp", *present]
        rows = [
            [opts.time(o.timestamp), *(opts.value(o.types.get(m, ""), o.values.get(m)) for m in present)]
            for o in objects
        ]
        return {
            "metadata": {"columns": {h: i for i, h in enumerate(header)}, "table_header": header},
            "data": rows,
        }
    if opts.format == "disjoint_tables":
        columns: dict[str, list[list[Any]]] = {}
        for o in objects:
            for member, value in o.values.items():
                columns.setdefault(member, []).append(
                    [opts.value(o.types[member], value), opts.time(o.timestamp)]
                )
        return {"data": columns}
    return {"data": [object_json(o, opts) for o in objects]}


def cut(
    items: Sequence[T], limit: int, since: int | None, offset: int
) -> tuple[list[T], dict[str, str] | None]:
    """A page of at most ``limit`` items (fetched ``limit + 1``) and the parameters of the next page.

    The next page starts at the page's last timestamp and skips the items of that timestamp already
    given (``offset``), so a run of equal timestamps is never cut short nor repeated.
    """
    if len(items) <= limit:
        return list(items), None
    page = list(items[:limit])
    last = page[-1].timestamp
    given = sum(1 for item in page if item.timestamp == last) + (offset if since == last else 0)
    return page, {"since": iso_micros(last), "offset": str(given)}
