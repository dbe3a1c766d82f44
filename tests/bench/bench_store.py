"""Print the store figures: insert rate, read latencies over >= 10M rows, LTTB over 1M points.

A script, not a test::

    /work/venv/bin/python tests/bench/bench_store.py --rows 10000000

- insert: ``--insert-rows`` readings as ingest batches go through the persist path's own
  column building (``pipeline.store.columns.insert_columns``) and ``insert_individual`` into
  chDB, ``--batch`` readings per insert (rows/s, column building included);
- then ``--rows`` rows (``--devices`` devices, one reading a second each) are generated inside
  ClickHouse (``INSERT ... SELECT FROM numbers()``), and timed over ``--runs`` runs each:
  the latest value of a device's interface (``latest_samples``, the snapshot query), a one-day
  window of one path (``path_samples``, one 10 000-row page, as the API serves it), a one-day
  1-minute aggregate (``aggregate``), and ``downsample_to=1000`` over ``--lttb-points`` points
  of one path (``downsampled``). ``--optimize`` merges the table's parts first (the steady
  state background merges reach); without it reads race the merges of the fresh inserts.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pipeline.store.aggregates import aggregate
from pipeline.store.clickhouse import ClickHouseStore
from pipeline.store.columns import insert_columns
from pipeline.store.downsample import downsampled
from pipeline.store.readings import Window, latest_samples, path_samples
from pipeline.store.shapes import Shape

T0 = 1_700_000_000_000_000
DAY = 86_400_000_000
IFACE, PATH, REALM = "org.bench.Meter", "/m/power", "bench"


async def insert_rate(store: ClickHouseStore, rows: int, batch: int) -> float:
    shape = Shape(properties=False, is_object=False)
    started = time.perf_counter()
    for first in range(0, rows, batch):
        readings = [
            {
                "realm": "insert",
                "device_id": f"dev{i % 1000}",
                "interface": IFACE,
                "major": 0,
                "path": PATH,
                "value_type": "double",
                "value": float(i),
                "timestamp": T0 + i * 1000,
                "reception_timestamp": T0 + i * 1000 + 500,
            }
            for i in range(first, min(first + batch, rows))
        ]
        columns = insert_columns([{"id_base": first, "readings": readings}], lambda *_: shape)
        await store.insert_individual(columns.individual)
    return rows / (time.perf_counter() - started)


async def generate(store: ClickHouseStore, rows: int, devices: int, lttb_points: int) -> float:
    started = time.perf_counter()
    await store.query(
        "INSERT INTO {db}.individual_datastreams (realm, device_id, interface, major, path, value_type, "
        "timestamp, reception_timestamp, reading_id, double_value) "
        "SELECT {realm:String}, concat('dev', toString(number % {devices:UInt64})), {iface:String}, 0, "
        "{path:String}, 'double', "
        "fromUnixTimestamp64Micro(toInt64({t0:Int64} + intDiv(number, {devices:UInt64}) * 1000000), 'UTC'), "
        "fromUnixTimestamp64Micro(toInt64({t0:Int64} + intDiv(number, {devices:UInt64}) * 1000000 + 500), "
        "'UTC'), number, sin(number / 1000) FROM numbers({rows:UInt64})",
        {"realm": REALM, "devices": devices, "iface": IFACE, "path": PATH, "t0": T0, "rows": rows},
    )
    # One dense path for LTTB: a reading every 100 ms.
    await store.query(
        "INSERT INTO {db}.individual_datastreams (realm, device_id, interface, major, path, value_type, "
        "timestamp, reception_timestamp, reading_id, double_value) "
        "SELECT {realm:String}, 'dense', {iface:String}, 0, {path:String}, 'double', "
        "fromUnixTimestamp64Micro(toInt64({t0:Int64} + number * 100000), 'UTC'), "
        "fromUnixTimestamp64Micro(toInt64({t0:Int64} + number * 100000), 'UTC'), number, "
        "sin(number / 5000) + (number % 7919 = 0) * 10 FROM numbers({rows:UInt64})",
        {"realm": REALM, "iface": IFACE, "path": PATH, "t0": T0, "rows": lttb_points},
    )
    return time.perf_counter() - started


async def timed(runs: int, call: Callable[[], Awaitable[Any]]) -> tuple[float, float, float]:
    """p50, p99 and max in milliseconds."""
    await call()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))], times[-1]


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-store-") as data:
        async with ClickHouseStore(f"chdb://{data}", database="bench") as store:
            rate = await insert_rate(store, args.insert_rows, args.batch)
            print(f"insert (persist column path, {args.batch}-row inserts): {rate:,.0f} rows/s")
            took = await generate(store, args.rows, args.devices, args.lttb_points)
            count = (await store.query("SELECT count() FROM {db}.individual_datastreams", {}))[0][0]
            print(
                f"generated {args.rows:,} + {args.lttb_points:,} rows in {took:.1f} s; table holds {count:,}"
            )
            if args.optimize:
                started = time.perf_counter()
                await store.query("OPTIMIZE TABLE {db}.individual_datastreams FINAL", {})
                print(f"merged to one part per partition in {time.perf_counter() - started:.1f} s")
            span = args.rows // args.devices * 1_000_000
            rng = random.Random(1)

            def device() -> str:
                return f"dev{rng.randrange(args.devices)}"

            def day() -> Window:
                start = T0 + rng.randrange(max(1, span - DAY))
                return Window(since=start, to=start + DAY, limit=10_000)

            figures = {
                "latest value (snapshot of one device)": lambda: latest_samples(
                    store, realm=REALM, device_id=device(), interface=IFACE
                ),
                "latest value (path, limit=1)": lambda: path_samples(
                    store, realm=REALM, device_id=device(), interface=IFACE, path=PATH, limit=1
                ),
                "one-day window (first 10 000-row page)": lambda: _window(store, device(), day()),
                "one-day 1-minute aggregates": lambda: aggregate(
                    store,
                    realm=REALM,
                    devices=[device()],
                    interface=IFACE,
                    major=0,
                    path=PATH,
                    value_type="double",
                    window=day(),
                    interval=60_000_000,
                    functions=["avg", "min", "max", "count"],
                ),
                f"downsample_to=1000 over {args.lttb_points:,} points": lambda: downsampled(
                    store,
                    realm=REALM,
                    device_id="dense",
                    interface=IFACE,
                    path=PATH,
                    value_type="double",
                    window=Window(since=T0, limit=args.lttb_points),
                    points=1000,
                ),
            }
            for name, call in figures.items():
                p50, p99, worst = await timed(args.runs, call)
                print(f"{name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms ({args.runs} runs)")


async def _window(store: ClickHouseStore, device_id: str, window: Window) -> Any:
    return await path_samples(
        store,
        realm=REALM,
        device_id=device_id,
        interface=IFACE,
        path=PATH,
        since=window.since,
        to=window.to,
        limit=window.limit,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--insert-rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--lttb-points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--optimize", action="store_true", help="Merge parts before timing reads.")
    asyncio.run(main(parser.parse_args()))
