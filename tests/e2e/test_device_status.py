"""Device status on ``headwater up``: connection, introspection and exchanged counts, as in Astarte."""

from __future__ import annotations

import time
import uuid
from typing import Any

import bson
import paho.mqtt.client as mqtt

from tests.e2e.conftest import Running
from tests.helpers import random_device_id

IFACE = {
    "interface_name": "org.acme.Status",
    "version_major": 1,
    "version_minor": 2,
    "type": "datastream",
    "ownership": "device",
    "mappings": [{"endpoint": "/value", "type": "double"}],
}


def _device(platform: Running, realm: str, device_id: str, secret: str) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{realm}/{device_id}")
    client.username_pw_set(f"{realm}/{device_id}", secret)
    client.connect("127.0.0.1", platform.mqtt_port)
    client.loop_start()
    return client


def _until(check: Any, within: float = 5.0) -> Any:
    deadline = time.monotonic() + within
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.05)
    return result


def test_status_follows_connection_introspection_and_traffic(platform: Running) -> None:
    realm, device_id = f"r{uuid.uuid4().hex[:8]}", random_device_id()
    with platform.client() as api:
        api.post("/housekeeping/v1/realms", json={"data": {"realm_name": realm}})
        api.post(f"/realmmanagement/v1/{realm}/interfaces", json={"data": IFACE})
        secret = api.post(f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": device_id}}).json()[
            "data"
        ]["credentials_secret"]
        before = api.get(f"/appengine/v1/{realm}/devices/{device_id}").json()["data"]
        time.sleep(1.0)
        device = _device(platform, realm, device_id, secret)
        device.publish(f"{realm}/{device_id}", b"org.acme.Status:1:2", qos=2).wait_for_publish(10)
        payload = bson.encode({"v": 1.5})
        for _ in range(3):
            device.publish(f"{realm}/{device_id}/org.acme.Status/value", payload, qos=1).wait_for_publish(10)
        status_path = f"/appengine/v1/{realm}/devices/{device_id}"
        online = _until(
            lambda: (s := api.get(status_path).json()["data"])["connected"] and s["introspection"] and s
        )
        stats = api.get(f"/appengine/v1/{realm}/stats/devices").json()["data"]
        device.disconnect()
        device.loop_stop()
        offline = _until(lambda: not (s := api.get(status_path).json()["data"])["connected"] and s)
        listed = api.get(f"/appengine/v1/{realm}/devices").json()
        unknown = api.get(f"/appengine/v1/{realm}/devices/{random_device_id()}")

    assert before["connected"] is False and before["first_registration"].endswith("Z")
    assert online["last_connection"] and online["last_seen_ip"] == "127.0.0.1"
    assert stats == {"total_devices": 1, "connected_devices": 1}
    assert offline["last_disconnection"] >= offline["last_connection"]
    assert offline["introspection"] == {
        "org.acme.Status": {"major": 1, "minor": 2, "exchanged_msgs": 3, "exchanged_bytes": 3 * len(payload)}
    }
    assert offline["total_received_msgs"] == 3
    assert listed["data"] == [device_id]
    assert unknown.status_code == 404


def test_an_invalid_introspection_is_a_device_error(platform: Running) -> None:
    realm, device_id = f"r{uuid.uuid4().hex[:8]}", random_device_id()
    with platform.client() as api:
        api.post("/housekeeping/v1/realms", json={"data": {"realm_name": realm}})
        secret = api.post(f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": device_id}}).json()[
            "data"
        ]["credentials_secret"]
        device = _device(platform, realm, device_id, secret)
        device.publish(f"{realm}/{device_id}", b"not an introspection", qos=2).wait_for_publish(10)
        device.disconnect()
        device.loop_stop()
        metrics = api.get("/metrics").text

    assert 'headwater_messages_rejected_total{reason="invalid_introspection"}' in metrics
