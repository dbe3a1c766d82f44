"""Print µs per decode+validate of one reading (targets: scalar ≤5 µs, 10-field object ≤20 µs).

Run: ``/work/venv/bin/python tests/bench/bench_payload.py [loops]``. A script, not a test.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from typing import TYPE_CHECKING

import bson
from bson.int64 import Int64

from schemas.interface import parse_interface
from schemas.payload import CompiledInterface, Decoded

if TYPE_CHECKING:
    from collections.abc import Callable

OBJECT_TYPES = [
    "double", "integer", "boolean", "longinteger", "string",
    "binaryblob", "datetime", "doublearray", "integerarray", "stringarray",
]  # fmt: skip


def _interface(aggregation: str, mappings: list[dict[str, object]]) -> CompiledInterface:
    return CompiledInterface(
        parse_interface(
            {
                "interface_name": f"org.example.Bench{aggregation.title()}",
                "version_major": 1,
                "version_minor": 0,
                "type": "datastream",
                "ownership": "device",
                "aggregation": aggregation,
                "mappings": mappings,
            }
        )
    )


def _best_us(fn: Callable[[], object], loops: int, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter_ns() - start) / loops / 1000)
    return best


def main(loops: int) -> None:
    """Decode one scalar reading and one 10-field object reading ``loops`` times; print the best run."""
    scalar = _interface(
        "individual",
        [
            {"endpoint": "/%{sensor_id}/value", "type": "double", "explicit_timestamp": True},
            {"endpoint": "/%{sensor_id}/name", "type": "string"},
        ],
    )
    obj = _interface(
        "object", [{"endpoint": f"/%{{sensor_id}}/f{i}", "type": t} for i, t in enumerate(OBJECT_TYPES)]
    )
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    scalar_bson = bson.encode({"v": 21.5, "t": now})
    fields = [1.5, 3, True, Int64(2**40), "hello", b"\x00\x01", now, [1.0, 2.0], [1, 2, 3], ["a", "b"]]
    object_bson = bson.encode({"v": {f"f{i}": v for i, v in enumerate(fields)}, "t": now})
    json_fields = [
        1.5,
        3,
        True,
        2**40,
        "hello",
        "AAE=",
        "2024-01-01T00:00:00Z",
        [1.0, 2.0],
        [1, 2, 3],
        ["a", "b"],
    ]
    scalar_json = json.dumps({"v": 21.5, "t": "2024-01-01T00:00:00Z"}).encode()
    object_json = json.dumps({"v": {f"f{i}": v for i, v in enumerate(json_fields)}}).encode()

    cases: list[tuple[str, Callable[[], object]]] = [
        ("scalar double, BSON (target <= 5 us)", lambda: scalar.decode_bson("/s1/value", scalar_bson)),
        ("10-field object, BSON (target <= 20 us)", lambda: obj.decode_bson("/s1", object_bson)),
        ("scalar double, JSON form", lambda: scalar.decode_json("/s1/value", scalar_json)),
        ("10-field object, JSON form", lambda: obj.decode_json("/s1", object_json)),
        ("bson.decode alone, scalar payload", lambda: bson.decode(scalar_bson)),
    ]
    for name, fn in cases[:4]:
        assert isinstance(fn(), Decoded), name
    print(f"python {sys.version.split()[0]}, bson C extension: {bson.has_c()}, {loops} loops, best of 5")
    for name, fn in cases:
        print(f"{_best_us(fn, loops):8.2f} us  {name}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
