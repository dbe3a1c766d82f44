"""Print what each candidate schema of ``individual_datastreams`` costs in bytes and in read time.

A script, not a test::

    /work/venv/bin/python tests/bench/bench_schema.py --rows 10000000

The same rows (``schema_rows.generate``: ``--devices`` devices, five series each, one reading
every ``--interval`` seconds, arrival order, broker-style reading ids) go into every variant,
each in a database of its own under one chDB path; ``migrated`` is the table
``pipeline.store.migrations`` builds, the others are written out here. Each variant is loaded
(``INSERT ... SELECT``), merged (``OPTIMIZE ... FINAL``, the steady state background merges
reach) and measured: compressed and uncompressed bytes (``system.parts``), bytes per column
(``system.columns``), and p50/p99 over ``--runs`` runs of the API's own reads (random device,
same sequence for every variant): the latest value of a path (``path_samples`` with
``limit=1``), a one-day window of a path (``path_samples``), and a one-day aggregate per
device of one realm (``aggregate`` with ``by_device``).
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pipeline.store.aggregates import aggregate
from pipeline.store.clickhouse import ClickHouseStore
from pipeline.store.migrations import INDIVIDUAL_COLUMNS
from pipeline.store.readings import Window, path_samples
from tests.bench.schema_rows import generate

T0 = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp()) * 1_000_000
DAY = 86_400_000_000
TABLE = "individual_datastreams"
LOADED = tuple(
    c for c in INDIVIDUAL_COLUMNS if not c.endswith("_array") and c not in ("bool_value", "ttl_seconds")
)
# Migration 1 and 3 as they were first written: (type, codec) per column.
V1: dict[str, tuple[str, str]] = {
    "realm": ("LowCardinality(String)", ""),
    "device_id": ("String", ""),
    "interface": ("LowCardinality(String)", ""),
    "major": ("UInt32", ""),
    "path": ("String", ""),
    "value_type": ("LowCardinality(String)", ""),
    "timestamp": ("DateTime64(6, 'UTC')", "Delta, ZSTD"),
    "reception_timestamp": ("DateTime64(6, 'UTC')", "Delta, ZSTD"),
    "reading_id": ("UInt64", ""),
    "double_value": ("Float64", "Gorilla, ZSTD"),
    "long_value": ("Int64", "T64, ZSTD"),
    "bool_value": ("Bool", ""),
    "string_value": ("String", "ZSTD"),
    "double_array": ("Array(Float64)", ""),
    "long_array": ("Array(Int64)", ""),
    "bool_array": ("Array(Bool)", ""),
    "string_array": ("Array(String)", ""),
    "ttl_seconds": ("UInt32 DEFAULT 0", "T64, ZSTD"),
}
KEY = "realm, device_id, interface, path, timestamp, reading_id"
_PLAIN = ("device_id", "major", "path", "reading_id", "bool_value", *(c for c in V1 if c.endswith("_array")))


@dataclass(frozen=True)
class Variant:
    """A table definition: V1 with some columns' types or codecs replaced, its key or partitioning."""

    name: str
    types: dict[str, str] = field(default_factory=dict)
    codecs: dict[str, str] = field(default_factory=dict)
    every_codec: str | None = None
    order_by: str = KEY
    partition_by: str = "toYYYYMM(timestamp)"

    def ddl(self, db: str) -> str:
        columns = []
        for name, (kind, v1_codec) in V1.items():
            codec = self.codecs.get(name, v1_codec if self.every_codec is None else self.every_codec)
            columns.append(f"{name} {self.types.get(name, kind)}" + (f" CODEC({codec})" if codec else ""))
        return (
            f"CREATE TABLE {db}.{TABLE} ({', '.join(columns)}) ENGINE = ReplacingMergeTree "
            f"PARTITION BY {self.partition_by} ORDER BY ({self.order_by}) "
            "TTL toDateTime(timestamp) + toIntervalSecond(ttl_seconds) WHERE ttl_seconds > 0"
        )


_ZSTD3 = {
    "timestamp": "Delta, ZSTD(3)",
    "reception_timestamp": "Delta, ZSTD(3)",
    "double_value": "Gorilla, ZSTD(3)",
    "long_value": "T64, ZSTD(3)",
    "string_value": "ZSTD(3)",
}
VARIANTS = (
    Variant("v1"),
    Variant("no-codecs", every_codec=""),
    Variant("zstd1-all", every_codec="ZSTD(1)"),
    Variant("zstd3-all", every_codec="ZSTD(3)"),
    Variant("v1-zstd3", codecs=_ZSTD3),
    Variant("ts-doubledelta", codecs={c: "DoubleDelta, ZSTD" for c in ("timestamp", "reception_timestamp")}),
    Variant("double-zstd", codecs={"double_value": "ZSTD(1)"}),
    Variant("double-fpc", codecs={"double_value": "FPC, ZSTD"}),
    Variant("double-fpc-zstd3", codecs={**_ZSTD3, "double_value": "FPC, ZSTD(3)"}),
    Variant("double-zstd3", codecs={**_ZSTD3, "double_value": "ZSTD(3)"}),
    Variant("long-delta", codecs={"long_value": "Delta, ZSTD"}),
    Variant("plain-zstd", codecs=dict.fromkeys(_PLAIN, "ZSTD(1)")),
    Variant("plain-zstd3", codecs={**_ZSTD3, **dict.fromkeys(_PLAIN, "ZSTD(3)")}),
    Variant("string-keys", types=dict.fromkeys(("realm", "interface", "value_type"), "String")),
    Variant("lc-path", types={"path": "LowCardinality(String)"}),
    Variant("lc-device", types={"device_id": "LowCardinality(String)"}),
    Variant("key-no-id", order_by=KEY.removesuffix(", reading_id")),
    Variant(
        "key-day-first",
        order_by="realm, interface, path, toStartOfDay(timestamp), device_id, timestamp, reading_id",
    ),
    Variant("part-day", partition_by="toDate(timestamp)"),
)


async def timed(runs: int, call: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    await call()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


async def sizes(store: ClickHouseStore) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """The table's active parts (rows, parts, bytes) and each column's (compressed, uncompressed)."""
    [part] = await store.query(
        "SELECT sum(rows), count(), sum(data_compressed_bytes), sum(data_uncompressed_bytes), "
        "sum(primary_key_bytes_in_memory) FROM system.parts "
        "WHERE database = {d:String} AND table = {t:String} AND active",
        {"d": store.database, "t": TABLE},
    )
    columns = await store.query(
        "SELECT name, data_compressed_bytes, data_uncompressed_bytes FROM system.columns "
        "WHERE database = {d:String} AND table = {t:String}",
        {"d": store.database, "t": TABLE},
    )
    keys = ("rows", "parts", "compressed", "uncompressed", "primary_key")
    return dict(zip(keys, part, strict=True)), {row[0]: (row[1], row[2]) for row in columns}


def reads(store: ClickHouseStore, devices: list[tuple[str, str]], span: int, seed: int) -> dict[str, Any]:
    """The three timed reads, drawing devices and days from their own seeded sequence."""
    rng = random.Random(seed)
    by_realm: dict[str, list[str]] = {}
    for realm, device in devices:
        by_realm.setdefault(realm, []).append(device)
    iface, path = "org.acme.Meter", "/power"

    def latest() -> Awaitable[Any]:
        realm, device = rng.choice(devices)
        return path_samples(store, realm=realm, device_id=device, interface=iface, path=path, limit=1)

    def window() -> Awaitable[Any]:
        (realm, device), start = rng.choice(devices), T0 + rng.randrange(max(1, span - DAY))
        return path_samples(
            store, realm=realm, device_id=device, interface=iface, path=path, since=start, to=start + DAY
        )

    def per_device() -> Awaitable[Any]:
        realm, start = rng.choice(sorted(by_realm)), T0 + DAY * rng.randrange(max(1, span // DAY))
        return aggregate(
            store,
            realm=realm,
            devices=by_realm[realm],
            interface=iface,
            major=1,
            path=path,
            value_type="double",
            window=Window(since=start, to=start + DAY),
            interval=DAY,
            functions=["avg", "min", "max", "count"],
            by_device=True,
        )

    return {"latest": latest, "day window": window, "day per device": per_device}


async def measure(
    store: ClickHouseStore, args: argparse.Namespace, devices: list[tuple[str, str]]
) -> dict[str, Any]:
    """Load, merge and measure the table in ``store.database``."""
    cols = ", ".join(LOADED)
    started = time.perf_counter()
    await store.query(f"INSERT INTO {{db}}.{TABLE} ({cols}) SELECT {cols} FROM source.rows", {})
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    await store.query(f"OPTIMIZE TABLE {{db}}.{TABLE} FINAL", {})
    merged = time.perf_counter() - started
    parts, columns = await sizes(store)
    span = args.rows // (args.devices * 5) * int(args.interval * 1_000_000)
    timings = {
        name: await timed(args.runs, call) for name, call in reads(store, devices, span, args.seed).items()
    }
    return {"load_s": loaded, "merge_s": merged, **parts, "columns": columns, "reads": timings}


def report(results: dict[str, dict[str, Any]]) -> None:
    """Markdown tables: one row per variant, then compressed KiB per column and variant."""
    base = results.get("v1") or next(iter(results.values()))
    mib = 1024 * 1024
    print(
        "\n| variant | rows | parts | compressed MiB | uncompressed MiB | ratio | vs v1 | load s | merge s "
        "| latest p50/p99 ms | day window p50/p99 ms | day per device p50/p99 ms |"
    )
    print("|---" * 12 + "|")
    for name, r in results.items():
        timings = " | ".join(f"{p50:.1f} / {p99:.1f}" for p50, p99 in r["reads"].values())
        print(
            f"| {name} | {r['rows']:,} | {r['parts']} | {r['compressed'] / mib:.1f} | "
            f"{r['uncompressed'] / mib:.1f} | {r['uncompressed'] / r['compressed']:.2f} | "
            f"{r['compressed'] / base['compressed']:.3f} | {r['load_s']:.1f} | {r['merge_s']:.1f} | "
            f"{timings} |"
        )
    names = list(results)
    print("\ncompressed KiB per column (uncompressed KiB in v1 in brackets):\n")
    print("| column | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for column in V1:
        cells = " | ".join(f"{results[n]['columns'][column][0] / 1024:,.0f}" for n in names)
        print(f"| {column} ({base['columns'][column][1] / 1024:,.0f}) | {cells} |")


async def main(args: argparse.Namespace) -> None:
    known = {v.name: v for v in (Variant("migrated"), *VARIANTS)}
    chosen = [known[name] for name in args.variants or known]
    with tempfile.TemporaryDirectory(prefix="bench-schema-", dir=args.tmp) as data:
        source = Path(data) / "rows.parquet"
        started = time.perf_counter()
        rows = generate(source, rows=args.rows, devices=args.devices, interval=args.interval, t0_us=T0)
        took = time.perf_counter() - started
        print(f"generated {rows:,} rows in {took:.1f} s ({source.stat().st_size:,} B of Parquet)")
        async with ClickHouseStore(f"chdb://{data}/clickhouse", database="migrated") as store:
            # One chDB path per process, so one store: pointed at each variant's database in turn.
            await store.query("CREATE DATABASE source", {})
            await store.query(
                "CREATE TABLE source.rows ENGINE = MergeTree ORDER BY tuple() "
                "AS SELECT * FROM file({f:String}, Parquet)",
                {"f": str(source)},
            )
            source.unlink()
            # Merge the source now: its background merges would slow down the first variant's figures.
            await store.query("OPTIMIZE TABLE source.rows FINAL", {})
            devices = [
                (r[0], r[1])
                for r in await store.query(
                    "SELECT DISTINCT realm, device_id FROM source.rows ORDER BY 1, 2", {}
                )
            ]
            results: dict[str, dict[str, Any]] = {}
            for variant in chosen:
                store.database = variant.name.replace("-", "_")
                if variant.name != "migrated":
                    await store.query(f"CREATE DATABASE {store.database}", {})
                    await store.query(variant.ddl(store.database), {})
                started = time.perf_counter()
                results[variant.name] = r = await measure(store, args, devices)
                took = time.perf_counter() - started
                print(f"{variant.name}: {r['compressed']:,} B, reads {r['reads']}, {took:.0f} s", flush=True)
                if not args.keep:
                    await store.query(f"DROP TABLE {store.database}.{TABLE} SYNC", {})
            report(results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=120.0, help="Seconds between a series' readings.")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--variants", nargs="*", choices=["migrated", *(v.name for v in VARIANTS)], help="Default: all."
    )
    parser.add_argument("--keep", action="store_true", help="Keep each variant's table until the end.")
    parser.add_argument("--tmp", help="Directory for the temporary data (default: the system's).")
    asyncio.run(main(parser.parse_args()))
