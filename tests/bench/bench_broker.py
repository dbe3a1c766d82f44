"""Print the MQTT broker figures: Headwater's broker next to stock amqtt and Mosquitto.

A script, not a test. In one run it starts, measures and stops, one after the other:

- Mosquitto on a fresh ``mosquitto -p <free port>`` (the reference for the ratio);
- stock amqtt (``amqtt.broker.Broker``, anonymous, no other plugin) in a subprocess;
- Headwater under a fresh ``headwater up`` (new data dir, free ports), with a new realm,
  the interface of ``pipeline.bench`` and ``--clients`` devices set up through the API,
  so every PUBLISH goes through authentication, validation and Kafka (Tansu).

Each is loaded with the reference ``mqtt_blast.py`` at QoS 0 and QoS 1 with the same
clients, messages per client and payload (BSON ``{"v": <double>}``): anonymous on
``bench/<i>/value`` for Mosquitto and amqtt, as the registered devices on
``<realm>/<device>/org.acme.Temperature/blast/value`` for Headwater. For Headwater,
``headwater_rows_persisted_total`` (``/metrics``) is then watched until it grew by the
messages sent, to show that the path behind the broker kept up::

    /work/venv/bin/python tests/bench/bench_broker.py [--clients 8] [--per-client 20000]

QoS 1 (acknowledged msgs/s) is the figure to quote; QoS 0 only shows how fast the
publisher could write. Tansu slows down as it holds more data, hence a fresh
``headwater up`` per run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pipeline.bench import (
    INTERFACE_NAME,
    ROWS_PERSISTED,
    BenchError,
    Target,
    device_file_entries,
    metric_totals,
    set_up,
    unique_realm,
)
from pipeline.ports import accepts, free_port

DEFAULT_BLAST = Path("/work/shared/tools/mqtt_blast.py")
RESERVED_PORTS = {1883, 4000, 8883, 9092}
BLAST_PATH = "/blast/value"
_BLAST_LINE = re.compile(r"acknowledged=(\d+) seconds=([\d.]+) rate=(\d+)")

# Stock amqtt: a TCP listener and the anonymous authentication plugin, nothing else.
_AMQTT = """
import asyncio, sys
from amqtt.broker import Broker

async def main() -> None:
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{sys.argv[1]}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    await broker.start()
    await asyncio.Event().wait()

asyncio.run(main())
"""


@dataclass
class Row:
    broker: str
    qos: int
    sent: int
    seconds: float
    rate: float
    persisted: int | None = None
    persist_seconds: float | None = None
    note: str = ""


def pick_port(taken: set[int]) -> int:
    while True:
        port = free_port()
        if port not in RESERVED_PORTS and port not in taken:
            taken.add(port)
            return port


def wait_until(
    ready: Callable[[], bool], what: str, process: subprocess.Popen[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{what} exited with code {process.returncode} before it was ready")
        if ready():
            return
        time.sleep(0.1)
    raise BenchError(f"{what} was not ready within {timeout:.0f} s")


@contextmanager
def started(
    argv: list[str], log: Path, what: str, ready: Callable[[], bool], timeout: float
) -> Iterator[None]:
    """Run ``argv`` (output to ``log``) until the block ends; SIGTERM, then SIGKILL, that process."""
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_until(ready, what, process, timeout)
        yield
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_blast(a: argparse.Namespace, port: int, qos: int, extra: list[str]) -> tuple[int, float, float]:
    argv = [
        sys.executable, str(a.blast), "--host", "127.0.0.1", "--port", str(port),
        "--clients", str(a.clients), "--per-client", str(a.per_client), "--qos", str(qos), *extra,
    ]  # fmt: skip
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=a.blast_timeout)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"mqtt_blast did not finish within {a.blast_timeout:.0f} s") from exc
    line = out.stdout.strip()
    print(f"    mqtt_blast: {line or out.stderr.strip()[-300:]}", flush=True)
    match = _BLAST_LINE.search(line)
    if out.returncode or not match:
        raise BenchError(f"mqtt_blast failed ({out.returncode}): {out.stderr.strip()[-300:]}")
    return int(match.group(1)), float(match.group(2)), float(match.group(3))


def measure_plain(a: argparse.Namespace, name: str, port: int) -> list[Row]:
    rows = []
    for qos in a.qos:
        print(f"  {name} QoS {qos}", flush=True)
        sent, seconds, rate = run_blast(a, port, qos, [])
        rows.append(Row(name, qos, sent, seconds, rate))
    return rows


def wait_persisted(
    target: Target, before: float, goal: int, started_at: float, timeout: float
) -> tuple[int, float]:
    """Watch rows persisted until they grew by ``goal`` (or stalled): (rows, seconds since started_at)."""
    deadline = time.perf_counter() + timeout
    last, last_change = -1.0, time.perf_counter()
    while True:
        now = metric_totals(target).get(ROWS_PERSISTED, 0.0) - before
        at = time.perf_counter()
        if now >= goal:
            return int(now), at - started_at
        if now != last:
            last, last_change = now, at
        if at > deadline or at - last_change > 15:  # gave up: no new row for 15 s
            return int(now), last_change - started_at
        time.sleep(0.05)


def measure_headwater(a: argparse.Namespace, work: Path, taken: set[int]) -> list[Row]:
    data_dir = work / "headwater-data"
    mqtt, mqtts, api, kafka = (pick_port(taken) for _ in range(4))
    argv = [
        str(a.headwater), "up", "--data-dir", str(data_dir), "--mqtt-port", str(mqtt),
        "--mqtts-port", str(mqtts), "--api-port", str(api), "--kafka-port", str(kafka),
    ]  # fmt: skip
    print(f"  headwater up: MQTT {mqtt}, API {api}, Kafka {kafka}, data {data_dir}", flush=True)
    rows = []

    def up() -> bool:
        return (data_dir / "admin.key").exists() and accepts("127.0.0.1", api) and accepts("127.0.0.1", mqtt)

    with started(argv, work / "headwater-up.log", "headwater up", up, 120):
        target = Target.from_args(f"http://127.0.0.1:{api}", f"127.0.0.1:{mqtt}", data_dir)
        wait_until_healthy(target)
        realm = unique_realm()
        fleet = set_up(target, realm, a.clients)
        devices = work / "devices.json"
        devices.write_text(json.dumps(device_file_entries(fleet)))
        extra = ["--devices", str(devices), "--realm", realm]
        extra += ["--interface", INTERFACE_NAME, "--path", BLAST_PATH]
        print(f"  realm {realm}, {len(fleet.devices)} devices", flush=True)
        for qos in a.qos:
            print(f"  headwater QoS {qos}", flush=True)
            before = metric_totals(target).get(ROWS_PERSISTED, 0.0)
            started_at = time.perf_counter()
            sent, seconds, rate = run_blast(a, mqtt, qos, extra)
            persisted, persist_seconds = wait_persisted(target, before, sent, started_at, a.drain_timeout)
            note = "" if persisted >= sent else f"only {persisted} of {sent} rows persisted"
            rows.append(Row("headwater", qos, sent, seconds, rate, persisted, persist_seconds, note))
    return rows


def wait_until_healthy(target: Target, timeout: float = 60) -> None:
    import httpx  # pipeline.bench already needs it

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{target.api}/health", timeout=2)
            if answer.status_code == 200 and answer.json().get("status") == "pass":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise BenchError(f"{target.api}/health did not pass within {timeout:.0f} s")


def print_table(rows: list[Row]) -> None:
    reference = {r.qos: r.rate for r in rows if r.broker == "mosquitto"}
    print()
    print(f"{'broker':<10} {'QoS':>3} {'sent':>9} {'seconds':>8} {'msgs/s':>9} {'vs mosquitto':>12}", end="")
    print("  rows persisted (Headwater)")
    for r in rows:
        ratio = f"{r.rate / reference[r.qos]:.3f}" if reference.get(r.qos) else "-"
        persisted = ""
        if r.persisted is not None and r.persist_seconds:
            per_second = r.persisted / r.persist_seconds
            persisted = f"{r.persisted} rows in {r.persist_seconds:.2f} s = {per_second:,.0f} rows/s"
        line = f"{r.broker:<10} {r.qos:>3} {r.sent:>9} {r.seconds:>8.2f} {r.rate:>9,.0f} {ratio:>12}"
        line += f"  {persisted}"
        print(line + (f"  ({r.note})" if r.note else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blast", type=Path, default=DEFAULT_BLAST, help=f"default {DEFAULT_BLAST}")
    ap.add_argument("--clients", type=int, default=8, help="MQTT clients / devices (default 8)")
    ap.add_argument("--per-client", type=int, default=20_000, help="PUBLISHes per client (default 20000)")
    ap.add_argument("--qos", type=int, nargs="+", choices=(0, 1), default=[0, 1], help="default: 0 1")
    ap.add_argument(
        "--brokers",
        nargs="+",
        choices=("mosquitto", "amqtt", "headwater"),
        default=["mosquitto", "amqtt", "headwater"],
        help="brokers to measure, in this order (default all)",
    )
    ap.add_argument("--mosquitto", default=shutil.which("mosquitto") or "mosquitto", help="mosquitto binary")
    ap.add_argument(
        "--headwater", type=Path, default=Path(sys.executable).with_name("headwater"), help="headwater CLI"
    )
    ap.add_argument("--blast-timeout", type=float, default=300.0, help="seconds one mqtt_blast may take")
    ap.add_argument("--drain-timeout", type=float, default=120.0, help="seconds to wait for rows persisted")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs, Headwater data)")
    a = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-broker-"))
    taken: set[int] = set()
    rows: list[Row] = []
    print(
        f"{a.clients} clients x {a.per_client} PUBLISHes, QoS {' '.join(map(str, a.qos))}; "
        f"{os.cpu_count()} CPUs; work dir {work}",
        flush=True,
    )
    try:
        for name in a.brokers:
            if name == "headwater":
                rows += measure_headwater(a, work, taken)
                continue
            port = pick_port(taken)
            if name == "mosquitto":
                argv = [a.mosquitto, "-p", str(port)]
            else:
                argv = [sys.executable, "-c", _AMQTT, str(port)]
            print(f"  {name} on port {port}", flush=True)
            with started(argv, work / f"{name}.log", name, lambda p=port: accepts("127.0.0.1", p), 30):
                rows += measure_plain(a, name, port)
    except BenchError as exc:
        print_table(rows)
        sys.exit(f"bench_broker: {exc} (logs in {work})")
    finally:
        if not a.keep and not sys.exc_info()[0]:
            shutil.rmtree(work, ignore_errors=True)
    print_table(rows)


if __name__ == "__main__":
    main()
