"""Devices publishing while ``headwater up``'s children are SIGKILLed: what was PUBACKed, what got stored.

Shared by the kill test (``test_up_kills.py``, CI size) and ``tests/bench/bench_kills.py``
(benchmark size). Each device is a paho client with a persistent session sending unique QoS 1
values with explicit timestamps; paho resends what is unacknowledged after a reconnect, with DUP
set, so a value PUBACKed or not ends stored exactly once, or the platform lost or doubled it.
"""

from __future__ import annotations

import re
import signal
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import bson
import httpx
import paho.mqtt.client as mqtt
import psutil
from bson.datetime_ms import DatetimeMS

from tests.e2e.conftest import Running, initial_introspection

INTERFACE = "org.acme.Kill"
T0_MS = 1_767_225_600_000
WINDOW = 200
"""Values a device may have sent but not yet seen PUBACKed (paced so kills land mid-stream)."""


@dataclass
class Figures:
    """What a run ended with."""

    published: int
    pubacked: int
    stored_rows: int
    stored_values: int
    restarts: dict[str, float]
    restart_lines: dict[str, int]
    seconds: float
    kills: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.stored_rows - self.stored_values

    @property
    def lost(self) -> int:
        # Values are unique and all of them end PUBACKed (paho resends until they are).
        return self.pubacked - self.stored_values

    def lines(self) -> list[str]:
        return [
            f"published   {self.published}",
            f"PUBACKed    {self.pubacked}",
            f"stored      {self.stored_rows} rows, {self.stored_values} distinct values",
            f"duplicates  {self.duplicates}",
            f"lost        {self.lost}",
            f"kills       {', '.join(self.kills)}",
            f"restarts    {self.restarts} (metric), {self.restart_lines} (log lines)",
            f"seconds     {self.seconds:.1f}",
        ]


class Device:
    """A paho client with a persistent session counting its PUBACKed values."""

    def __init__(self, running: Running, realm: str, device_id: str, secret: str, index: int) -> None:
        self.topic = f"{realm}/{device_id}/{INTERFACE}/value"
        self.index = index
        self.sent = 0
        # Packet ids PUBACKed: unique while a device sends fewer than 65,535 values. No lock: paho
        # calls on_publish holding its own, and publish() takes that one too.
        self._acked: set[int] = set()
        client_id = f"{realm}/{device_id}"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        client.username_pw_set(f"{realm}/{device_id}", secret)
        client.max_inflight_messages_set(WINDOW)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(0.1, 1)
        client.on_publish = self._on_publish
        self.client = client
        client.connect("127.0.0.1", running.mqtt_port, keepalive=30)
        client.loop_start()

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, _rc: object, _p: object) -> None:
        self._acked.add(mid)

    @property
    def acked(self) -> int:
        return len(self._acked)

    def value(self, i: int, per_device: int) -> float:
        return float(self.index * per_device + i)

    def publish(self, i: int, per_device: int) -> None:
        payload = bson.encode({"v": self.value(i, per_device), "t": DatetimeMS(T0_MS + i)})
        self.client.publish(self.topic, payload, qos=1)
        self.sent += 1

    def in_flight(self) -> int:
        return self.sent - self.acked

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def register(running: Running, devices: int) -> tuple[str, list[tuple[str, str]]]:
    from schemas.names import random_device_id

    realm = f"k{uuid.uuid4().hex[:8]}"
    interface = {
        "interface_name": INTERFACE,
        "version_major": 1,
        "version_minor": 0,
        "type": "datastream",
        "ownership": "device",
        "mappings": [{"endpoint": "/value", "type": "double", "explicit_timestamp": True}],
    }
    registered = []
    with running.client() as api:
        assert api.post("/housekeeping/v1/realms", json={"data": {"realm_name": realm}}).status_code == 201
        answer = api.post(f"/realmmanagement/v1/{realm}/interfaces", json={"data": interface})
        assert answer.status_code == 201, answer.text
        for _ in range(devices):
            device_id = random_device_id()
            registration = {"hw_id": device_id, "initial_introspection": initial_introspection(interface)}
            answer = api.post(f"/pairing/v1/{realm}/agent/devices", json={"data": registration})
            assert answer.status_code == 201, answer.text
            registered.append((device_id, answer.json()["data"]["credentials_secret"]))
    time.sleep(1.0)  # the broker learns of the interface from the registry topic
    return realm, registered


def child(running: Running, role: str) -> psutil.Process:
    """The child of ``headwater up`` playing ``role`` (tansu, broker or worker)."""
    for process in psutil.Process(running.process.pid).children():
        command = " ".join(process.cmdline())
        played = command.split("pipeline.cli ")[1].split()[0] if "pipeline.cli " in command else "tansu"
        if played == role:
            return process
    raise AssertionError(f"no {role} child")


def restart_lines(running: Running) -> dict[str, int]:
    text = running.output.read_text()
    return {role: text.count(f"{role} restarted") for role in ("tansu", "broker", "worker")}


def restarts_metric(running: Running) -> dict[str, float]:
    text = httpx.get(f"{running.api}/metrics", timeout=10).text
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'^headwater_child_restarts_total\{child="(\w+)"\} (\S+)$', text, re.MULTILINE)
    }


def stored(running: Running, realm: str) -> tuple[int, int]:
    """Rows and distinct values of the realm's kill interface (FINAL: as readers see them)."""
    query = (
        "SELECT count(), uniqExact(double_value) FROM {db}.individual_datastreams FINAL "
        f"WHERE interface = '{INTERFACE}'"
    )
    try:
        with running.client() as api:
            answer = api.post(f"/appengine/v1/{realm}/sql", json={"query": query}, timeout=30)
    except httpx.HTTPError:
        return -1, -1
    if answer.status_code != 200:
        return -1, -1
    rows, values = answer.json()["data"]["rows"][0]
    return int(rows), int(values)


def healthy(running: Running) -> bool:
    """Whether the API of ``headwater up`` answers /health."""
    try:
        return httpx.get(f"{running.api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(condition: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {within:.0f} s")
        time.sleep(0.1)


def run(
    running: Running,
    *,
    devices: int,
    per_device: int,
    kills: tuple[tuple[str, float], ...] = (("broker", 0.2), ("worker", 0.45), ("worker", 0.7)),
    settle: float = 600.0,
) -> Figures:
    """Publish ``devices * per_device`` values, SIGKILLing each role when that share is PUBACKed."""
    started = time.monotonic()
    realm, registered = register(running, devices)
    fleet = [Device(running, realm, d, s, i) for i, (d, s) in enumerate(registered)]
    total = devices * per_device
    pending_kills = sorted(kills, key=lambda kill: kill[1])
    done_kills: list[str] = []
    try:
        for i in range(per_device):
            for device in fleet:
                while device.in_flight() >= WINDOW:
                    time.sleep(0.002)
                device.publish(i, per_device)
            acked = sum(d.acked for d in fleet)
            if pending_kills and acked >= pending_kills[0][1] * total:
                role, _ = pending_kills.pop(0)
                before = restart_lines(running).get(role, 0)
                child(running, role).send_signal(signal.SIGKILL)
                done_kills.append(f"{role} at {acked} PUBACKed")
                _wait(lambda r=role, b=before: restart_lines(running).get(r, 0) > b, 120, f"{role} restarted")
                # The next kill then finds the restarted worker at work.
                _wait(lambda: healthy(running), 120, "the API answers again")
        _wait(lambda: sum(d.acked for d in fleet) >= total, settle, "every value PUBACKed")
        deadline = time.monotonic() + settle
        while stored(running, realm)[1] < total and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(1.0)  # a late duplicate would land by now
        rows, values = stored(running, realm)
        return Figures(
            published=total,
            pubacked=sum(d.acked for d in fleet),
            stored_rows=rows,
            stored_values=values,
            restarts=restarts_metric(running),
            restart_lines=restart_lines(running),
            seconds=time.monotonic() - started,
            kills=done_kills,
        )
    finally:
        for device in fleet:
            device.close()
