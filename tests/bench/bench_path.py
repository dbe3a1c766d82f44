"""Print the data-path figures of a running Headwater: freshness and end-to-end throughput.

A script, not a test. Against an instance started with ``headwater up``::

    /work/venv/bin/python tests/bench/bench_path.py --api http://127.0.0.1:4000 \\
        --mqtt 127.0.0.1:1883 --data-dir ./headwater-data \\
        --blast /work/shared/tools/mqtt_blast.py

- freshness: ``--readings`` QoS 1 readings (paho-mqtt) at ``--rate``/s, each timed from
  ``publish()`` to the first poll of the query API that returns it (p50/p99/max ms);
- throughput: ``--clients`` devices x ``--per-client`` pipelined QoS 1 PUBLISHes, then
  ``headwater_rows_persisted_total`` is watched until it grew by the acknowledged count
  (msgs/s acked and rows/s persisted). With ``--blast`` the load is the reference
  ``mqtt_blast.py`` itself (it authenticates with ``--devices`` and sends BSON
  ``{"v": <double>}``); without it, the same wire behaviour from ``pipeline.bench.blast``.

Every run uses a new realm (``--realm`` to choose one; 409s are tolerated).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pipeline.bench import (
    INTERFACE_NAME,
    BenchError,
    BenchOptions,
    Fleet,
    Load,
    Target,
    device_file_entries,
    run,
)

_BLAST_LINE = re.compile(r"acknowledged=(\d+) seconds=([\d.]+) rate=(\d+)")


def reference_load(tool: Path, target: Target, per_client: int, path: str) -> Callable[[Fleet], Load]:
    """A load that runs ``mqtt_blast.py`` on the fleet and parses its figure."""

    def for_fleet(fleet: Fleet) -> Load:
        def load() -> tuple[int, float]:
            with tempfile.NamedTemporaryFile("w", suffix=".json") as devices:
                json.dump(device_file_entries(fleet), devices)
                devices.flush()
                argv = [
                    sys.executable, str(tool),
                    "--host", target.mqtt_host, "--port", str(target.mqtt_port),
                    "--clients", str(len(fleet.devices)), "--per-client", str(per_client), "--qos", "1",
                    "--devices", devices.name, "--realm", fleet.realm,
                    "--interface", INTERFACE_NAME, "--path", path,
                ]  # fmt: skip
                out = subprocess.run(argv, capture_output=True, text=True, check=False)
            line = out.stdout.strip()
            print(f"  mqtt_blast: {line or out.stderr.strip()[-300:]}", flush=True)
            match = _BLAST_LINE.search(line)
            if out.returncode or not match:
                raise BenchError(f"mqtt_blast failed ({out.returncode}): {out.stderr.strip()[-300:]}")
            return int(match.group(1)), float(match.group(2))

        return load

    return for_fleet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--api", required=True, help="HTTP API, e.g. http://127.0.0.1:4000")
    ap.add_argument("--mqtt", required=True, help="MQTT listener HOST:PORT")
    ap.add_argument("--data-dir", type=Path, required=True, help="instance data dir (admin.key)")
    ap.add_argument("--readings", type=int, default=1000, help="freshness readings (default 1000)")
    ap.add_argument("--rate", type=float, default=200.0, help="freshness publish rate per s (default 200)")
    ap.add_argument("--clients", type=int, default=8, help="throughput devices (default 8)")
    ap.add_argument("--per-client", type=int, default=20_000, help="QoS 1 PUBLISHes per device")
    ap.add_argument("--runs", type=int, default=1, help="throughput runs (default 1)")
    ap.add_argument("--realm", help="realm to use (default: a new one)")
    ap.add_argument("--blast", type=Path, help="path of the reference mqtt_blast.py to generate the load")
    ap.add_argument("--no-freshness", action="store_true")
    ap.add_argument("--no-throughput", action="store_true")
    a = ap.parse_args()
    try:
        target = Target.from_args(a.api, a.mqtt, a.data_dir)
        options = BenchOptions(
            readings=a.readings,
            rate=a.rate,
            clients=a.clients,
            per_client=a.per_client,
            runs=a.runs,
            realm=a.realm,
            freshness=not a.no_freshness,
            throughput=not a.no_throughput,
        )
        load = reference_load(a.blast, target, a.per_client, "/blast/value") if a.blast else None
        run(target, options, load)
    except BenchError as exc:
        sys.exit(f"bench_path: {exc}")


if __name__ == "__main__":
    main()
