"""Kill run at benchmark size: PUBACKed, stored, duplicates and lost while children are SIGKILLed.

A script, not a test (the CI size is ``tests/e2e/test_up_kills.py``). It starts a fresh
``headwater up`` (temporary data dir, free ports), connects ``--devices`` paho clients with
persistent sessions sending ``--per-device`` unique QoS 1 values each (explicit timestamps),
SIGKILLs the broker once and the worker twice along the way, and prints the figures::

    .venv/bin/python tests/bench/bench_kills.py --devices 20 --per-device 10000 [--runs 3]

Exit status 1 when a run lost or doubled a value.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.e2e import killrun
from tests.e2e.conftest import start_up


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--per-device", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--settle", type=float, default=900.0, help="seconds to wait for acks and storage")
    options = parser.parse_args()
    failed = False
    for number in range(1, options.runs + 1):
        with tempfile.TemporaryDirectory(prefix="hw-kills-") as scratch:
            running = start_up(Path(scratch) / "data")
            try:
                figures = killrun.run(
                    running, devices=options.devices, per_device=options.per_device, settle=options.settle
                )
            finally:
                running.stop()
        print(f"run {number}: {options.devices} devices x {options.per_device} values")
        for line in figures.lines():
            print(f"  {line}")
        failed |= figures.lost != 0 or figures.duplicates != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
