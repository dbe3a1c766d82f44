"""``headwater query`` against ``headwater up``: readings published over MQTT come back as a user asks."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bson
import pyarrow.parquet as pq

from tests.e2e.conftest import Running, provision
from tests.e2e.test_appengine_data import Device, until
from tests.e2e.test_interface_cli import headwater

IFACE = "org.acme.e2e.Meter"
METER = {
    "interface_name": IFACE,
    "version_major": 0,
    "version_minor": 1,
    "type": "datastream",
    "ownership": "device",
    "mappings": [{"endpoint": "/%{meter}/power", "type": "double", "explicit_timestamp": True}],
}
START = datetime(2024, 3, 1, 0, 0, 0, tzinfo=UTC)
COUNT = 25


def test_query_commands(platform: Running, tmp_path: Path) -> None:
    given = provision(platform, METER)
    device = Device(platform, given.realm, given.device_id, given.secret)
    try:
        device.send("", f"{IFACE}:0:1".encode())
        for i in range(COUNT):
            at = START + timedelta(seconds=i)
            device.send(f"{IFACE}/m1/power", bson.encode({"v": float(i), "t": at}))
    finally:
        device.close()
    path = f"/appengine/v1/{given.realm}/devices/{given.device_id}/interfaces/{IFACE}/m1/power"
    with platform.client() as api:
        stored = until(lambda: len(api.get(path, params={"limit": 100}).json().get("data", [])) == COUNT)
    assert stored, "the readings were not stored"
    target = [given.device_id, IFACE, "/m1/power", "--realm", given.realm]

    samples = headwater(platform, "query", "get-samples", *target, "--page-size", "10", "-o", "json")
    assert samples.returncode == 0, samples.stderr
    assert [s["value"] for s in json.loads(samples.stdout)] == [float(i) for i in range(COUNT)]

    window = ["--since", "2024-03-01T00:00:05Z", "--to", "2024-03-01T00:00:08Z"]
    as_csv = headwater(platform, "query", "get-samples", *target, *window, "-o", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["timestamp"], r["value"]) for r in rows] == [
        ("2024-03-01T00:00:05.000Z", "5.0"),
        ("2024-03-01T00:00:06.000Z", "6.0"),
        ("2024-03-01T00:00:07.000Z", "7.0"),
    ]

    parquet = tmp_path / "power.parquet"
    limited = ["--limit", "12", "--page-size", "5", "-o", "parquet", "--file", str(parquet)]
    written = headwater(
        platform, "query", "get-samples", *target, "--since", "2024-03-01T00:00:00Z", *limited
    )
    assert written.returncode == 0, written.stderr
    assert pq.read_table(parquet).column("value").to_pylist() == [float(i) for i in range(12)]

    snapshot = headwater(
        platform, "query", "snapshot", given.device_id, IFACE, "--realm", given.realm, "-o", "json"
    )
    assert snapshot.returncode == 0, snapshot.stderr
    assert json.loads(snapshot.stdout)["m1"]["power"]["value"] == float(COUNT - 1)

    aggregate = headwater(
        platform, "query", "aggregate", *target, "--interval", "10s", "--functions", "count,max", "-o", "json"
    )
    assert aggregate.returncode == 0, aggregate.stderr
    assert [(b["count"], b["max"]) for b in json.loads(aggregate.stdout)] == [
        (10, 9.0),
        (10, 19.0),
        (5, 24.0),
    ]

    sql = headwater(
        platform,
        "query",
        "sql",
        "SELECT count() AS n FROM {db}.individual_datastreams WHERE interface = 'org.acme.e2e.Meter'",
        "--realm",
        given.realm,
        "-o",
        "json",
    )
    assert sql.returncode == 0, sql.stderr
    assert json.loads(sql.stdout) == [{"n": COUNT}]

    exported = tmp_path / "power.arrow"
    export = headwater(platform, "query", "export", *target, "--format", "arrow", "--file", str(exported))
    assert export.returncode == 0, export.stderr
    assert exported.stat().st_size > 0

    bad = headwater(platform, "query", "aggregate", *target, "--interval", "soon")
    assert bad.returncode == 1
    assert "interval" in bad.stderr
