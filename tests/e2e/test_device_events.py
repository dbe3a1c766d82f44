"""A device's event log on ``headwater up``: an MQTT connect and disconnect show in the events route."""

from __future__ import annotations

import time
from typing import Any

import paho.mqtt.client as mqtt

from tests.e2e.conftest import Running, provision

IFACE = {
    "interface_name": "org.acme.Logged",
    "version_major": 1,
    "version_minor": 0,
    "type": "datastream",
    "ownership": "device",
    "mappings": [{"endpoint": "/value", "type": "double"}],
}


def _until(check: Any, within: float = 20.0) -> Any:
    deadline = time.monotonic() + within
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.1)
    return result


def test_connect_introspection_and_disconnect_are_logged(platform: Running) -> None:
    device = provision(platform, IFACE, declared=False)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device.base)
    client.username_pw_set(device.base, device.secret)
    client.connect("127.0.0.1", platform.mqtt_port)
    client.loop_start()
    client.publish(device.base, b"org.acme.Logged:1:0", qos=2).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()
    url = f"/appengine/v1/{device.realm}/devices/{device.device_id}/events"

    with platform.client() as api:

        def logged() -> list[dict[str, Any]] | None:
            answer = api.get(url)
            assert answer.status_code == 200, answer.text
            data: list[dict[str, Any]] = answer.json()["data"]
            return data if data and data[-1]["type"] == "device_disconnected" else None

        events = _until(logged)
        connected = next(e for e in events if e["type"] == "device_connected")
        since = api.get(url, params={"since": connected["timestamp"]}).json()["data"]
        latest = api.get(url, params={"limit": 1}).json()["data"]
        unknown = api.get(f"/appengine/v1/{device.realm}/devices/AAAAAAAAAAAAAAAAAAAAAA/events")

    types = [e["type"] for e in events]
    assert types[0] == "device_registered"
    assert types.index("device_connected") < types.index("incoming_introspection")
    assert types.index("incoming_introspection") < types.index("device_disconnected")
    assert "interface_added" in types  # implied by the introspection, logged like the rest
    assert connected["ip_address"] == "127.0.0.1"
    introspection = next(e for e in events if e["type"] == "incoming_introspection")
    assert introspection["metadata"] == {"introspection": "org.acme.Logged:1:0"}
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert since[0]["type"] == "device_connected" and since[-1]["type"] == "device_disconnected"
    assert [e["type"] for e in latest] == ["device_disconnected"]
    assert unknown.status_code == 404
