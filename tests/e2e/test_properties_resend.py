"""A device that empties its cache gets its server-owned properties again, then the purge list."""

from __future__ import annotations

import queue
import time

import bson
import paho.mqtt.client as mqtt

from schemas.purge import decode_purge_list
from tests.e2e.conftest import Running, provision

SETTINGS = {
    "interface_name": "org.acme.Config",
    "version_major": 0,
    "version_minor": 1,
    "type": "properties",
    "ownership": "server",
    "mappings": [
        {"endpoint": "/%{lamp}/enabled", "type": "boolean", "allow_unset": True},
        {"endpoint": "/%{lamp}/name", "type": "string"},
    ],
}


def test_empty_cache_resends_set_properties_and_the_purge_list(platform: Running) -> None:
    provisioned = provision(platform, SETTINGS, settle=0)
    realm, device_id, secret, base = (
        provisioned.realm,
        provisioned.device_id,
        provisioned.secret,
        provisioned.base,
    )
    with platform.client() as api:
        appengine = f"/appengine/v1/{realm}/devices/{device_id}/interfaces/org.acme.Config"
        assert api.put(f"{appengine}/kitchen/name", json={"data": "Kitchen"}).status_code == 200
        assert api.put(f"{appengine}/kitchen/enabled", json={"data": True}).status_code == 200
        assert api.put(f"{appengine}/hall/enabled", json={"data": False}).status_code == 200
        assert api.delete(f"{appengine}/hall/enabled").status_code == 204
    time.sleep(1.0)
    received: queue.Queue[tuple[str, bytes]] = queue.Queue()
    device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=base, clean_session=True)
    device.username_pw_set(base, secret)
    device.on_message = lambda _c, _u, m: received.put((m.topic, m.payload))
    device.connect("127.0.0.1", platform.mqtt_port)
    device.loop_start()
    device.subscribe([(f"{base}/org.acme.Config/#", 2), (f"{base}/control/consumer/properties", 2)])
    time.sleep(0.5)
    device.publish(f"{base}/control/emptyCache", b"1", qos=2).wait_for_publish(10)
    messages = [received.get(timeout=5) for _ in range(3)]
    device.disconnect()
    device.loop_stop()

    by_topic = dict(messages)  # topics differ; the broker may deliver them in any order
    assert len(by_topic) == 3
    assert by_topic[f"{base}/org.acme.Config/kitchen/enabled"] == bson.encode({"v": True})
    assert by_topic[f"{base}/org.acme.Config/kitchen/name"] == bson.encode({"v": "Kitchen"})
    assert decode_purge_list(by_topic[f"{base}/control/consumer/properties"]) == [
        "org.acme.Config/kitchen/enabled",
        "org.acme.Config/kitchen/name",
    ]
