"""Print schemathesis's counts over the whole OpenAPI document with a larger budget than CI's.

A script, not a test::

    .venv/bin/python tests/bench/bench_openapi_fuzz.py --examples 50

Starts a Tansu on a free port, serves the app (SQLite registry and chDB in a temporary
directory, an admin key) and runs ``--examples`` generated cases per operation with the checks
of ``tests/integration/openapi_fuzz.py`` (no 5xx; status codes, content types and bodies as
documented). Prints the calls made, the operations, and one line per failed check.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pipeline import ports, tansu
from pipeline.settings import KafkaSettings
from tests.integration.openapi_fuzz import fuzz
from tests.integration.served import served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=50, help="generated cases per operation")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        port = ports.free_port()
        process = tansu.spawn("127.0.0.1", port, data / "tansu.log")
        try:
            deadline = time.monotonic() + 20
            while not ports.accepts("127.0.0.1", port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"Tansu did not start: {(data / 'tansu.log').read_text()}")
                time.sleep(0.05)
            kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}", idempotence=False)
            started = time.monotonic()
            with served(data, f"chdb://{data}/clickhouse", kafka) as (base_url, key):
                problems, calls = fuzz(base_url, key, args.examples)
            elapsed = time.monotonic() - started
        finally:
            process.terminate()
            process.wait(10)
    print(f"{calls} calls, --examples {args.examples}, {elapsed:.0f} s, {len(problems)} failed checks")
    for line in problems:
        print(" ", line)


if __name__ == "__main__":
    main()
