"""The path benchmark: MQTT in, query API out, against a running Headwater.

Two figures, both measured from outside like a device and an analyst would:

- **freshness**: readings published one by one at QoS 1 (paho-mqtt) at a steady
  rate, each carrying its sequence number as value; a poller asks the query API
  for the latest values of the path back to back and notes when each sequence
  number first shows up. Latency = that moment minus the moment of ``publish()``.
- **end-to-end throughput**: pipelined QoS 1 PUBLISHes from raw sockets (the
  wire behaviour of the reference ``mqtt_blast.py``: pre-encoded BSON
  ``{"v": <double>}``, PUBACKs counted), then ``headwater_rows_persisted_total``
  is watched until it grew by the acknowledged count.

Used by ``headwater bench`` and ``tests/bench/bench_path.py``. paho-mqtt comes
with the ``test`` extra; only the freshness figure needs it.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import secrets
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import bson
import httpx

from schemas.names import random_device_id

INTERFACE_NAME = "org.acme.Temperature"
INTERFACE: dict[str, Any] = {
    "interface_name": INTERFACE_NAME,
    "version_major": 0,
    "version_minor": 1,
    "type": "datastream",
    "ownership": "device",
    "mappings": [{"endpoint": "/%{sensor}/value", "type": "double"}],
}
# Bench devices publish without sending an introspection: they are registered with one.
INITIAL_INTROSPECTION = {INTERFACE_NAME: {"major": 0, "minor": 1}}
ROWS_PERSISTED = "headwater_rows_persisted_total"
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


class BenchError(Exception):
    """The benchmark could not run (setup refused, nothing arrived in time...)."""


# --------------------------------------------------------------------------- target and setup


@dataclass(frozen=True)
class Target:
    """A running Headwater: its API, its MQTT listener and an admin API key."""

    api: str
    mqtt_host: str
    mqtt_port: int
    api_key: str

    @classmethod
    def from_args(cls, api: str, mqtt: str, data_dir: Path | None, api_key: str | None = None) -> Target:
        host, _, port = mqtt.rpartition(":")
        if not host or not port.isdigit():
            raise BenchError(f"--mqtt wants HOST:PORT, not {mqtt!r}")
        if api_key is None:
            if data_dir is None:
                raise BenchError("give --data-dir (to read admin.key) or an API key")
            key_file = data_dir / "admin.key"
            try:
                api_key = key_file.read_text().strip()
            except OSError as exc:
                raise BenchError(f"cannot read the admin key: {exc}") from exc
        return cls(api.rstrip("/"), host, int(port), api_key)

    def http(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.api, headers={"Authorization": f"Bearer {self.api_key}"}, timeout=timeout
        )


@dataclass(frozen=True)
class Device:
    id: str
    secret: str


@dataclass(frozen=True)
class Fleet:
    """What the benchmark set up: one realm with the interface and some devices."""

    realm: str
    devices: list[Device]

    def topic(self, device: Device, path: str) -> str:
        return f"{self.realm}/{device.id}/{INTERFACE_NAME}{path}"


def unique_realm(prefix: str = "bench") -> str:
    """A realm name nobody used before (``^[a-z][a-z0-9]*$``)."""
    return f"{prefix}{int(time.time()):x}{secrets.token_hex(3)}"


def _post(client: httpx.Client, url: str, data: dict[str, Any]) -> httpx.Response:
    """POST an Astarte envelope; a 409 (already there) is fine, anything else but 2xx is not."""
    answer = client.post(url, json={"data": data})
    if answer.status_code != 409 and not answer.is_success:
        raise BenchError(f"POST {url} -> {answer.status_code}: {answer.text[:300]}")
    return answer


def set_up(target: Target, realm: str, devices: int) -> Fleet:
    """Create the realm, install the interface and register ``devices`` new devices."""
    registered: list[Device] = []
    with target.http() as client:
        _post(client, "/housekeeping/v1/realms", {"realm_name": realm})
        _post(client, f"/realmmanagement/v1/{realm}/interfaces", INTERFACE)
        for _ in range(devices):
            device_id = random_device_id()
            registration = {"hw_id": device_id, "initial_introspection": INITIAL_INTROSPECTION}
            answer = _post(client, f"/pairing/v1/{realm}/agent/devices", registration)
            if answer.status_code == 409:
                raise BenchError(f"device {device_id} already exists in {realm} with unknown credentials")
            registered.append(Device(device_id, answer.json()["data"]["credentials_secret"]))
    # The broker learns of realms and interfaces through hw.registry: give it a moment.
    time.sleep(0.5)
    return Fleet(realm, registered)


def metric_totals(target: Target) -> dict[str, float]:
    """Every sample of ``/metrics``, summed over labels, by sample name."""
    with httpx.Client(base_url=target.api, timeout=10) as client:
        text = client.get("/metrics").text
    totals: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            name, value = match.group(1), float(match.group(3))
            totals[name] = totals.get(name, 0.0) + value
    return totals


# --------------------------------------------------------------------------- freshness


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return ordered[rank - 1]


def _micros(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1_000_000)


@dataclass
class Freshness:
    """Publish -> first returned by the query API, per reading (milliseconds)."""

    published: int
    latencies_ms: list[float]
    acks_ms: list[float]
    to_broker_ms: list[float]
    polls: int
    poll_ms: list[float]
    missed: int
    rate: float
    seconds: float

    def summary(self) -> list[str]:
        def stats(values: Sequence[float]) -> str:
            return (
                f"p50 {percentile(values, 0.5):7.1f}  p99 {percentile(values, 0.99):7.1f}  "
                f"max {max(values, default=float('nan')):7.1f} ms"
            )

        seen = len(self.latencies_ms)
        return [
            f"freshness: {self.published} readings at {self.rate:.0f}/s, QoS 1 (paho), "
            f"{seen} seen by the query API, {self.missed} never seen",
            f"  publish -> first returned by query API  {stats(self.latencies_ms)}",
            f"  publish -> PUBACK                       {stats(self.acks_ms)}",
            f"  publish -> broker reception_timestamp   {stats(self.to_broker_ms)}  (ms resolution)",
            f"  query API round trip ({self.polls} polls)    {stats(self.poll_ms)}",
        ]


class _Poller(threading.Thread):
    """Asks for the latest values of one path back to back; notes when each value first appears."""

    def __init__(self, target: Target, url: str, limit: int, expected: int, interval: float) -> None:
        super().__init__(name="freshness-poller", daemon=True)
        self._target = target
        self._url = url
        self._limit = limit
        self._expected = expected
        self._interval = interval
        self.first_seen: dict[int, float] = {}
        self.reception_us: dict[int, int] = {}
        self.poll_ms: list[float] = []
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            with self._target.http(timeout=30) as client:
                while not self.stop.is_set() and len(self.first_seen) < self._expected:
                    started = time.perf_counter()
                    answer = client.get(self._url, params={"limit": self._limit})
                    now = time.perf_counter()
                    self.poll_ms.append((now - started) * 1000)
                    if answer.status_code == 404:  # the broker may not know the device's data yet
                        time.sleep(self._interval)
                        continue
                    answer.raise_for_status()
                    for item in answer.json()["data"]:
                        index = int(item["value"])
                        if index not in self.first_seen:
                            self.first_seen[index] = now
                            self.reception_us[index] = _micros(item["reception_timestamp"])
                    if self._interval:
                        time.sleep(self._interval)
        except BaseException as exc:  # reported by the caller
            self.error = exc


class _PahoDevice:
    """One device on paho-mqtt (network loop in its thread) that notes when each PUBACK came."""

    def __init__(self, target: Target, fleet: Fleet, device: Device) -> None:
        try:  # paho-mqtt comes with the test extra, so import it only here
            import paho.mqtt.client as mqtt  # noqa: PLC0415
            from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise BenchError("freshness needs paho-mqtt: pip install 'headwater[test]'") from exc
        self.user = f"{fleet.realm}/{device.id}"
        self.acked_at: dict[int, float] = {}
        self._connected = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.user)
        self._client.username_pw_set(self.user, device.secret)
        self._client.max_inflight_messages_set(10_000)
        self._client.max_queued_messages_set(0)
        self._client.on_connect = self._on_connect
        self._client.on_publish = self._on_publish
        self._client.connect(target.mqtt_host, target.mqtt_port, keepalive=60)
        self._client.loop_start()
        if not self._connected.wait(10):
            self.close()
            raise BenchError(f"MQTT CONNECT as {self.user} was not accepted")

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            self._connected.set()

    def _on_publish(self, _c: Any, _u: Any, mid: int, _r: Any, _p: Any) -> None:
        self.acked_at[mid] = time.perf_counter()

    def publish(self, topic: str, payload: bytes) -> int:
        """Send at QoS 1; the packet id (its PUBACK time lands in ``acked_at``)."""
        return int(self._client.publish(topic, payload, qos=1).mid)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def measure_freshness(
    target: Target,
    fleet: Fleet,
    *,
    readings: int = 1000,
    rate: float = 200.0,
    poll_interval: float = 0.0,
    drain_timeout: float = 30.0,
) -> Freshness:
    """Publish ``readings`` values at ``rate``/s on one path and time each until the API returns it.

    Each value is its sequence number, so the poller knows which reading it sees. Keep
    ``readings`` below 65535 (paho's packet ids, used to match PUBACKs, wrap there).
    """
    device = fleet.devices[0]
    path = "/fresh/value"
    url = f"/appengine/v1/{fleet.realm}/devices/{device.id}/interfaces/{INTERFACE_NAME}{path}"
    poller = _Poller(target, url, min(10_000, max(200, int(rate * 2))), readings, poll_interval)
    payloads = [bson.encode({"v": float(i)}) for i in range(readings)]
    topic = fleet.topic(device, path)
    published_at: list[float] = []
    published_wall_us: list[int] = []
    mids: list[int] = []
    publisher = _PahoDevice(target, fleet, device)
    try:
        poller.start()
        start = time.perf_counter()
        for i, payload in enumerate(payloads):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            published_wall_us.append(time.time_ns() // 1000)
            published_at.append(time.perf_counter())
            mids.append(publisher.publish(topic, payload))
        publish_seconds = time.perf_counter() - start
        poller.join(drain_timeout)
    finally:
        poller.stop.set()
        publisher.close()
    poller.join(5)
    if poller.error is not None:
        raise BenchError(f"the query poller failed: {poller.error!r}")
    seen, acked_at = poller.first_seen, publisher.acked_at
    return Freshness(
        published=readings,
        latencies_ms=[(seen[i] - published_at[i]) * 1000 for i in range(readings) if i in seen],
        acks_ms=[(acked_at[m] - published_at[i]) * 1000 for i, m in enumerate(mids) if m in acked_at],
        to_broker_ms=[
            (poller.reception_us[i] - published_wall_us[i]) / 1000 for i in range(readings) if i in seen
        ],
        polls=len(poller.poll_ms),
        poll_ms=poller.poll_ms,
        missed=readings - len(seen),
        rate=readings / publish_seconds if publish_seconds else float("inf"),
        seconds=publish_seconds,
    )


# --------------------------------------------------------------------------- load (as mqtt_blast sends it)


def _varlen(n: int) -> bytes:
    out = bytearray()
    while True:
        digit, n = n % 128, n // 128
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def connect_packet(client_id: str, user: str, password: str) -> bytes:
    body = _str("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 60) + _str(client_id)
    body += _str(user) + _str(password)
    return b"\x10" + _varlen(len(body)) + body


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    body = _str(topic) + struct.pack("!H", packet_id) + payload
    return b"\x32" + _varlen(len(body)) + body


def bson_double(v: float) -> bytes:
    """The BSON document ``{"v": v}``, as mqtt_blast encodes it."""
    return struct.pack("<i", 16) + b"\x01v\x00" + struct.pack("<d", v) + b"\x00"


async def _blast_one(host: str, port: int, *, user: str, password: str, topic: str, count: int) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(connect_packet(user, user, password))
    await writer.drain()
    connack = await reader.readexactly(4)
    if connack[3] != 0:
        raise BenchError(f"{user}: CONNACK return code {connack[3]}")

    async def count_acks() -> int:
        got = 0
        while got < count * 4:
            data = await reader.read(65536)
            if not data:
                break
            got += len(data)
        return got // 4

    acks = asyncio.create_task(count_acks())
    buffer = bytearray()
    for k in range(count):
        buffer += publish_packet(topic, bson_double(float(k)), (k % 65535) + 1)
        if len(buffer) > 65536:
            writer.write(bytes(buffer))
            buffer.clear()
            await writer.drain()
    writer.write(bytes(buffer))
    await writer.drain()
    acked = await acks
    writer.close()
    return acked


def blast(target: Target, fleet: Fleet, per_client: int, path: str = "/blast/value") -> tuple[int, float]:
    """One pipelined QoS 1 client per device, ``per_client`` PUBLISHes each: (acknowledged, seconds)."""

    async def run() -> tuple[int, float]:
        jobs = [
            _blast_one(
                target.mqtt_host,
                target.mqtt_port,
                user=f"{fleet.realm}/{d.id}",
                password=d.secret,
                topic=fleet.topic(d, path),
                count=per_client,
            )
            for d in fleet.devices
        ]
        started = time.perf_counter()
        counts = await asyncio.gather(*jobs)
        return sum(counts), time.perf_counter() - started

    return asyncio.run(run())


# --------------------------------------------------------------------------- end-to-end throughput

Load = Callable[[], tuple[int, float]]
_DELTAS = (
    "headwater_ingest_batch_readings_sum",
    "headwater_ingest_batch_readings_count",
    "headwater_kafka_produce_seconds_sum",
    "headwater_kafka_produce_seconds_count",
    "headwater_clickhouse_insert_seconds_sum",
    "headwater_clickhouse_insert_seconds_count",
    ROWS_PERSISTED,
)


@dataclass
class Throughput:
    acked: int
    blast_seconds: float
    persisted: int
    persist_seconds: float
    deltas: dict[str, float] = field(default_factory=dict)

    def summary(self) -> list[str]:
        d = self.deltas

        def mean(name: str, scale: float = 1.0) -> float:
            count = d.get(f"{name}_count", 0.0)
            return d.get(f"{name}_sum", 0.0) / count * scale if count else float("nan")

        return [
            f"end-to-end: {self.acked} PUBLISH acknowledged in {self.blast_seconds:.2f} s = "
            f"{self.acked / self.blast_seconds:,.0f} msg/s acked (QoS 1)",
            f"  {self.persisted} rows persisted {self.persist_seconds:.2f} s after the first PUBLISH = "
            f"{self.persisted / self.persist_seconds:,.0f} rows/s persisted "
            f"(drain after the last PUBACK {self.persist_seconds - self.blast_seconds:.2f} s)",
            f"  ingest records: {d.get('headwater_ingest_batch_readings_count', 0):.0f}, "
            f"mean {mean('headwater_ingest_batch_readings'):.0f} readings, "
            f"mean Kafka ack {mean('headwater_kafka_produce_seconds', 1000):.1f} ms; "
            f"ClickHouse inserts: {d.get('headwater_clickhouse_insert_seconds_count', 0):.0f}, "
            f"mean {mean('headwater_clickhouse_insert_seconds', 1000):.1f} ms",
        ]


def measure_throughput(target: Target, load: Load, *, drain_timeout: float = 120.0) -> Throughput:
    """Run ``load`` (which returns acknowledged messages and seconds) and wait until all are stored."""
    before = metric_totals(target)
    started = time.perf_counter()
    acked, blast_seconds = load()
    goal = before.get(ROWS_PERSISTED, 0.0) + acked
    deadline = time.perf_counter() + drain_timeout
    while True:
        now = metric_totals(target)
        reached = time.perf_counter()
        if now.get(ROWS_PERSISTED, 0.0) >= goal:
            break
        if reached > deadline:
            stored = now.get(ROWS_PERSISTED, 0.0) - before.get(ROWS_PERSISTED, 0.0)
            raise BenchError(f"only {stored:.0f} of {acked} rows persisted within {drain_timeout:.0f} s")
        time.sleep(0.02)
    deltas = {name: now.get(name, 0.0) - before.get(name, 0.0) for name in _DELTAS}
    return Throughput(acked, blast_seconds, int(deltas[ROWS_PERSISTED]), reached - started, deltas)


# --------------------------------------------------------------------------- the whole run


@dataclass(frozen=True)
class BenchOptions:
    readings: int = 1000
    rate: float = 200.0
    clients: int = 8
    per_client: int = 20_000
    runs: int = 1
    realm: str | None = None
    freshness: bool = True
    throughput: bool = True


def run(target: Target, options: BenchOptions, load: Callable[[Fleet], Load] | None = None) -> None:
    """Set up, measure and print. ``load`` builds the throughput load for a fleet (default: :func:`blast`)."""
    realm = options.realm or unique_realm()
    fleet = set_up(target, realm, max(1, options.clients))
    print(
        f"target: API {target.api}, MQTT {target.mqtt_host}:{target.mqtt_port}; realm {realm}, "
        f"{len(fleet.devices)} devices; {os.cpu_count()} CPUs here",
        flush=True,
    )
    if options.freshness:
        for line in measure_freshness(target, fleet, readings=options.readings, rate=options.rate).summary():
            print(line, flush=True)
    if options.throughput:
        make_load = load or (lambda f: lambda: blast(target, f, options.per_client))
        for index in range(options.runs):
            result = measure_throughput(target, make_load(fleet))
            print(f"[run {index + 1}/{options.runs}] " + "\n".join(result.summary()), flush=True)


def device_file_entries(fleet: Fleet) -> list[dict[str, str]]:
    """The fleet in mqtt_blast's ``--devices`` JSON shape."""
    return [{"id": d.id, "secret": d.secret} for d in fleet.devices]
