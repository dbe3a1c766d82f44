"""A device's producer purge list unsets the device-owned properties it no longer keeps."""

from __future__ import annotations

import time

import bson
import paho.mqtt.client as mqtt

from schemas.purge import encode_purge_list
from tests.e2e.conftest import Running, introspection, provision

STATE = {
    "interface_name": "org.acme.State",
    "version_major": 1,
    "version_minor": 0,
    "type": "properties",
    "ownership": "device",
    "mappings": [{"endpoint": "/%{part}/mode", "type": "string", "allow_unset": True}],
}


def test_the_producer_purge_list_unsets_what_it_does_not_list(platform: Running) -> None:
    device = provision(platform, STATE)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device.base)
    client.username_pw_set(device.base, device.secret)
    client.connect("127.0.0.1", platform.mqtt_port)
    client.loop_start()
    client.publish(device.base, introspection(STATE), qos=2)
    for part, mode in (("pump", "on"), ("fan", "auto")):
        client.publish(
            f"{device.base}/org.acme.State/{part}/mode", bson.encode({"v": mode}), qos=2
        ).wait_for_publish(10)
    snapshot_path = f"/appengine/v1/{device.realm}/devices/{device.device_id}/interfaces/org.acme.State"
    with platform.client() as api:
        deadline = time.monotonic() + 5
        while len(before := api.get(snapshot_path).json()["data"]) < 2:
            assert time.monotonic() < deadline, before
        client.publish(
            f"{device.base}/control/producer/properties",
            encode_purge_list(["org.acme.State/pump/mode"]),
            qos=2,
        ).wait_for_publish(10)
        deadline = time.monotonic() + 5
        while "fan" in (after := api.get(snapshot_path).json()["data"]):
            assert time.monotonic() < deadline, after
    client.disconnect()
    client.loop_stop()

    assert before == {"pump": {"mode": "on"}, "fan": {"mode": "auto"}}
    assert after == {"pump": {"mode": "on"}}
