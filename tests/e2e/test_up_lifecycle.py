"""``headwater up`` lifecycle: a busy port names its flag, SIGTERM stops all, state survives restarts."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import bson
import paho.mqtt.client as mqtt
import psutil

from pipeline import ports
from tests.e2e.conftest import introspection, start_up
from tests.helpers import random_device_id

INTERFACE = {
    "interface_name": "org.acme.Humidity",
    "version_major": 1,
    "version_minor": 0,
    "type": "datastream",
    "ownership": "device",
    "mappings": [{"endpoint": "/value", "type": "double"}],
}


def test_a_busy_port_gives_one_line_naming_the_flag(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline.cli",
                "up",
                "--data-dir",
                str(tmp_path / "d"),
                "--api-port",
                str(port),
                "--mqtt-port",
                str(ports.free_port()),
                "--kafka-port",
                str(ports.free_port()),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert f"port {port}" in result.stderr and "--api-port" in result.stderr


def test_sigterm_stops_every_child_and_state_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_up(data_dir)
    key = first.key
    children = psutil.Process(first.process.pid).children(recursive=True)
    device_id = random_device_id()
    with first.client() as client:
        assert (
            client.post("/housekeeping/v1/realms", json={"data": {"realm_name": "acme"}}).status_code == 201
        )
        assert client.post("/realmmanagement/v1/acme/interfaces", json={"data": INTERFACE}).status_code == 201
        secret = client.post("/pairing/v1/acme/agent/devices", json={"data": {"hw_id": device_id}}).json()[
            "data"
        ]["credentials_secret"]
    time.sleep(1.0)
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"acme/{device_id}")
    publisher.username_pw_set(f"acme/{device_id}", secret)
    publisher.connect("127.0.0.1", first.mqtt_port)
    publisher.loop_start()
    publisher.publish(f"acme/{device_id}", introspection(INTERFACE), qos=2)
    publisher.publish(
        f"acme/{device_id}/org.acme.Humidity/value", bson.encode({"v": 0.4}), qos=1
    ).wait_for_publish(10)
    publisher.disconnect()
    publisher.loop_stop()
    path = f"/appengine/v1/acme/devices/{device_id}/interfaces/org.acme.Humidity/value"
    with first.client() as client:
        deadline = time.monotonic() + 5
        while not client.get(path).json()["data"]:
            assert time.monotonic() < deadline

    code = first.stop()

    assert code == 0
    assert len(children) >= 3  # tansu, worker, broker
    assert not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
    assert stat.S_IMODE(os.stat(data_dir / "admin.key").st_mode) == 0o600
    assert "admin key   hwk_" in first.output.read_text()

    second = start_up(data_dir)
    try:
        with second.client() as client:
            values = client.get(path).json()["data"]
    finally:
        second.stop()

    assert second.key == key
    assert "shown once" not in second.output.read_text()
    assert [v["value"] for v in values] == [0.4]
