"""``headwater device``, ``headwater send`` and ``headwater utils`` driven as a user would."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import time
import uuid

import bson
import paho.mqtt.client as mqtt

from tests.e2e.conftest import Running
from tests.e2e.test_interface_cli import headwater

COMMANDS = {
    "interface_name": "org.acme.Lamp",
    "version_major": 0,
    "version_minor": 1,
    "type": "datastream",
    "ownership": "server",
    "mappings": [{"endpoint": "/%{lamp}/level", "type": "double"}],
}
SETTINGS = {
    "interface_name": "org.acme.LampSettings",
    "version_major": 0,
    "version_minor": 1,
    "type": "properties",
    "ownership": "server",
    "mappings": [{"endpoint": "/%{lamp}/name", "type": "string"}],
}


def test_utils_device_ids_are_astarte_ids() -> None:
    def run(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "utils", "device-id", *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    namespace = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
    stable = run("from-string", namespace, "serial-42")

    assert stable == run("from-string", namespace, "serial-42") != run("from-string", namespace, "serial-43")
    assert len(stable) == 22 and len(run("generate")) == 22


def test_register_list_show_inhibit_and_send(platform: Running) -> None:
    realm = f"r{uuid.uuid4().hex[:8]}"
    with platform.client() as api:
        api.post("/housekeeping/v1/realms", json={"data": {"realm_name": realm}})
        for interface in (COMMANDS, SETTINGS):
            api.post(f"/realmmanagement/v1/{realm}/interfaces", json={"data": interface})

    registered = headwater(platform, "device", "register", "--realm", realm)
    device_id = registered.stdout.split()[2]
    secret = registered.stdout.split()[5]
    time.sleep(1.0)
    received: queue.Queue[tuple[str, bytes]] = queue.Queue()
    device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{realm}/{device_id}")
    device.username_pw_set(f"{realm}/{device_id}", secret)
    device.on_message = lambda _c, _u, m: received.put((m.topic, m.payload))
    device.connect("127.0.0.1", platform.mqtt_port)
    device.loop_start()
    device.subscribe(
        [(f"{realm}/{device_id}/org.acme.Lamp/#", 2), (f"{realm}/{device_id}/org.acme.LampSettings/#", 2)]
    )
    time.sleep(0.5)
    sent = headwater(platform, "send", device_id, "org.acme.Lamp", "/hall/level", "0.25", "--realm", realm)
    named = headwater(
        platform, "send", device_id, "org.acme.LampSettings", "/hall/name", "Hall", "--realm", realm
    )
    messages = dict(received.get(timeout=5) for _ in range(2))
    listed = headwater(platform, "device", "list", "--realm", realm, "-o", "json")
    shown = headwater(platform, "device", "show", device_id, "--realm", realm)
    inhibited = headwater(platform, "device", "inhibit", device_id, "--realm", realm)
    device.loop_stop()
    bad = headwater(platform, "send", device_id, "org.acme.Lamp", "/hall/level", '"bright"', "--realm", realm)

    assert registered.returncode == 0 and len(device_id) == 22
    assert sent.returncode == 0 and named.returncode == 0, sent.stderr + named.stderr
    assert messages[f"{realm}/{device_id}/org.acme.Lamp/hall/level"] == bson.encode({"v": 0.25})
    assert messages[f"{realm}/{device_id}/org.acme.LampSettings/hall/name"] == bson.encode({"v": "Hall"})
    assert [status["id"] for status in json.loads(listed.stdout)] == [device_id]
    assert json.loads(shown.stdout)["id"] == device_id
    assert inhibited.returncode == 0 and "inhibited" in inhibited.stdout
    assert bad.returncode == 1 and "unexpected_value_type" in bad.stderr
