"""The device tree by alias: reads and writes under /devices-by-alias/{alias}/... act on the device."""

from __future__ import annotations

import time

import bson
import paho.mqtt.client as mqtt

from tests.e2e.conftest import Running, introspection, provision

READINGS = {
    "interface_name": "org.acme.Boiler",
    "version_major": 1,
    "version_minor": 0,
    "type": "datastream",
    "ownership": "device",
    "mappings": [{"endpoint": "/temperature", "type": "double"}],
}
SETPOINT = {
    "interface_name": "org.acme.Setpoint",
    "version_major": 1,
    "version_minor": 0,
    "type": "properties",
    "ownership": "server",
    "mappings": [{"endpoint": "/target", "type": "double"}],
}


def test_the_alias_tree_mirrors_the_device_tree(platform: Running) -> None:
    device = provision(platform, READINGS, SETPOINT)
    with platform.client() as api:
        api.patch(
            f"/appengine/v1/{device.realm}/devices/{device.device_id}",
            json={"data": {"aliases": {"name": "boiler-7"}}},
        )
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device.base)
        client.username_pw_set(device.base, device.secret)
        client.connect("127.0.0.1", platform.mqtt_port)
        client.loop_start()
        client.publish(device.base, introspection(READINGS, SETPOINT), qos=2)
        client.publish(
            f"{device.base}/org.acme.Boiler/temperature", bson.encode({"v": 61.5}), qos=1
        ).wait_for_publish(10)
        client.disconnect()
        client.loop_stop()
        by_alias = f"/appengine/v1/{device.realm}/devices-by-alias/boiler-7/interfaces"
        deadline = time.monotonic() + 5
        while not (values := api.get(f"{by_alias}/org.acme.Boiler/temperature").json()["data"]):
            assert time.monotonic() < deadline
        snapshot = api.get(f"{by_alias}/org.acme.Boiler").json()["data"]
        written = api.put(f"{by_alias}/org.acme.Setpoint/target", json={"data": 55.0})
        by_id = f"/appengine/v1/{device.realm}/devices/{device.device_id}/interfaces/org.acme.Setpoint/target"
        deadline = time.monotonic() + 5
        while api.get(by_id).status_code != 200:
            assert time.monotonic() < deadline
        setpoint = api.get(by_id).json()["data"]
        unknown = api.get(f"/appengine/v1/{device.realm}/devices-by-alias/nobody/interfaces/org.acme.Boiler")

    assert [v["value"] for v in values] == [61.5]
    assert snapshot["temperature"]["value"] == 61.5
    assert written.status_code == 200
    assert setpoint == 55.0
    assert unknown.status_code == 404 and "nobody" in unknown.json()["errors"]["detail"]
