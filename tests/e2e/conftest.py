"""``headwater up`` as a user runs it: a subprocess on free ports with its own data dir."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline import ports

STARTUP = 120.0


@dataclass
class Running:
    """A running ``headwater up``."""

    process: subprocess.Popen[str]
    data_dir: Path
    mqtt_port: int
    api_port: int
    kafka_port: int
    output: Path

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def key(self) -> str:
        return (self.data_dir / "admin.key").read_text().strip()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api, headers={"Authorization": f"Bearer {self.key}"}, timeout=10)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


def start_up(data_dir: Path, *, mqtt_port: int | None = None) -> Running:
    """Start ``headwater up`` and wait until it says it is up."""
    mqtt, api, kafka_port, mqtts = (
        mqtt_port or ports.free_port(),
        ports.free_port(),
        ports.free_port(),
        ports.free_port(),
    )
    output = data_dir.parent / f"{data_dir.name}-up.log"
    with output.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline.cli",
                "up",
                "--data-dir",
                str(data_dir),
                "--mqtt-port",
                str(mqtt),
                "--api-port",
                str(api),
                "--kafka-port",
                str(kafka_port),
                "--mqtts-port",
                str(mqtts),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ),
        )
    running = Running(process, data_dir, mqtt, api, kafka_port, output)
    deadline = time.monotonic() + STARTUP
    while "Press Ctrl-C to stop." not in output.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            logs = "".join(p.read_text()[-3000:] for p in (data_dir / "logs").glob("*.log"))
            raise RuntimeError(f"headwater up did not start:\n{output.read_text()}\n{logs}")
        time.sleep(0.1)
    return running


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One ``headwater up`` shared by the data-path tests."""
    running = start_up(tmp_path_factory.mktemp("up") / "data")
    yield running
    running.stop()


@dataclass
class Provisioned:
    """A fresh realm with interfaces installed and one registered device."""

    realm: str
    device_id: str
    secret: str

    @property
    def base(self) -> str:
        return f"{self.realm}/{self.device_id}"


def provision(
    platform: Running, *interfaces: dict[str, object], settle: float = 1.0, declared: bool = True
) -> Provisioned:
    """Create a realm, install ``interfaces``, register a device; wait for brokers to learn of them.

    ``declared``: the registration's ``initial_introspection`` names the interfaces, so the device
    may publish before it sends an introspection (otherwise its first introspection adds them).
    """
    import uuid

    from schemas.names import random_device_id

    realm, device_id = f"r{uuid.uuid4().hex[:8]}", random_device_id()
    with platform.client() as api:
        assert api.post("/housekeeping/v1/realms", json={"data": {"realm_name": realm}}).status_code == 201
        for interface in interfaces:
            answer = api.post(f"/realmmanagement/v1/{realm}/interfaces", json={"data": interface})
            assert answer.status_code == 201, answer.text
        registration: dict[str, object] = {"hw_id": device_id}
        if declared:
            registration["initial_introspection"] = initial_introspection(*interfaces)
        registered = api.post(f"/pairing/v1/{realm}/agent/devices", json={"data": registration})
        assert registered.status_code == 201, registered.text
    time.sleep(settle)  # brokers learn of new interfaces from the registry topic within a second
    return Provisioned(realm, device_id, registered.json()["data"]["credentials_secret"])


def initial_introspection(*interfaces: dict[str, object]) -> dict[str, dict[str, object]]:
    """Astarte's ``initial_introspection`` of a registration: the device declares ``interfaces``
    until it sends an introspection of its own."""
    return {
        str(i["interface_name"]): {"major": i["version_major"], "minor": i["version_minor"]}
        for i in interfaces
    }


def introspection(*interfaces: dict[str, object]) -> bytes:
    """The introspection payload that declares ``interfaces`` at their versions (Astarte MQTT v1)."""
    return ";".join(
        f"{i['interface_name']}:{i['version_major']}:{i['version_minor']}" for i in interfaces
    ).encode()


def mqtt_connect(platform: Running, username: str, secret: str) -> tuple[Any, Any, threading.Event]:
    """A paho client that tried to connect: the client, the CONNACK reason, an event set on disconnect."""
    import paho.mqtt.client as mqtt

    result: dict[str, Any] = {}
    connected, disconnected = threading.Event(), threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=username)
    client.username_pw_set(username, secret)
    client.on_connect = lambda _c, _u, _f, reason, _p: (result.update(reason=reason), connected.set())
    client.on_disconnect = lambda *_args: disconnected.set()
    client.connect("127.0.0.1", platform.mqtt_port)
    client.loop_start()
    assert connected.wait(10)
    return client, result["reason"], disconnected
