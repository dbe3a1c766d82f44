"""Print the cost of evaluating one reading against 1, 100 and 10,000 installed triggers.

A script, not a test::

    /work/venv/bin/python tests/bench/bench_triggers.py [--readings 200000]

Most installed triggers cannot match the reading (they watch other sensors'
paths, other interfaces or other devices); a few can, one of them with a
value condition. The figure is µs per ``matches_for_reading`` call, so it
should stay flat as the installed count grows.
"""

from __future__ import annotations

import argparse
import base64
import time
from typing import Any

from schemas.interface import parse_interface
from schemas.trigger_index import TriggerIndex
from schemas.triggers import parse_trigger

DEVICE = "f0VMRgIBAQAAAAAAAAAAAA"
ACTION = {"http_url": "http://127.0.0.1:9000/hook", "http_method": "post"}


def interface(name: str) -> Any:
    return parse_interface(
        {
            "interface_name": name,
            "version_major": 1,
            "version_minor": 0,
            "type": "datastream",
            "ownership": "device",
            "mappings": [{"endpoint": "/%{sensor_id}/value", "type": "double"}],
        }
    )


INTERFACES = [interface("org.bench.Sensors"), *(interface(f"org.bench.Other{i}") for i in range(50))]


def trigger(i: int, **leaf: Any) -> Any:
    simple = {
        "type": "data_trigger",
        "on": "incoming_data",
        "interface_name": "org.bench.Sensors",
        "interface_major": 1,
        "match_path": "/*",
        "value_match_operator": "*",
        **leaf,
    }
    return parse_trigger({"name": f"t{i}", "action": ACTION, "simple_triggers": [simple]})


def non_matching(i: int) -> Any:
    """Three kinds of triggers that cannot match the reading, in turn."""
    kind = i % 3
    if kind == 0:  # another sensor's path, with a threshold
        return trigger(i, match_path=f"/sensor{i}/value", value_match_operator=">", known_value=30)
    if kind == 1:  # another interface
        return trigger(i, interface_name=f"org.bench.Other{i % 50}", match_path="/%{s}/value")
    other_device = base64.urlsafe_b64encode(i.to_bytes(16, "big")).rstrip(b"=").decode()
    return trigger(i, match_path="/sensor0/value", device_id=other_device)  # another device


def build(installed: int) -> TriggerIndex:
    index = TriggerIndex()
    index.add(
        "bench", trigger(0, match_path="/sensor0/value", value_match_operator=">", known_value=30), INTERFACES
    )
    for i in range(1, installed):
        index.add("bench", non_matching(i), INTERFACES)
    return index


def measure(index: TriggerIndex, readings: int) -> tuple[float, int]:
    match = index.matches_for_reading
    groups: frozenset[str] = frozenset()
    fired = 0
    start = time.perf_counter()
    for n in range(readings):
        value = 25.0 + (n & 15)  # 10 readings in 16 pass the threshold
        fired += len(
            match("bench", DEVICE, groups, "org.bench.Sensors", 1, "/sensor0/value", value, None, "incoming")
        )
    elapsed = time.perf_counter() - start
    return elapsed / readings * 1e6, fired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200_000)
    args = parser.parse_args()
    print(f"{'installed':>10} {'µs/reading':>11} {'fired':>8} {'build s':>8}")
    for installed in (1, 100, 10_000):
        t0 = time.perf_counter()
        index = build(installed)
        built = time.perf_counter() - t0
        measure(index, 1000)  # warm up
        us, fired = measure(index, args.readings)
        print(f"{installed:>10} {us:>11.2f} {fired:>8} {built:>8.2f}")


if __name__ == "__main__":
    main()
