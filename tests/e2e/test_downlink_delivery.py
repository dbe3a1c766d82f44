"""Downlink guarantees beyond stock amqtt: redelivery of unacknowledged messages, retention while offline."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import bson
import paho.mqtt.client as mqtt

from tests.e2e.conftest import Running, provision

COMMANDS = {
    "interface_name": "org.acme.Orders",
    "version_major": 0,
    "version_minor": 1,
    "type": "datastream",
    "ownership": "server",
    "mappings": [
        {"endpoint": "/kept", "type": "double", "reliability": "guaranteed", "retention": "stored"},
        {"endpoint": "/dropped", "type": "double", "reliability": "guaranteed", "retention": "discard"},
    ],
}


class PersistentDevice:
    """A device with a persistent session whose PUBACKs the test decides."""

    def __init__(self, platform: Running, base: str, secret: str, *, ack: bool) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=base, clean_session=False, manual_ack=True
        )
        self.client.username_pw_set(base, secret)
        connected = threading.Event()
        self.client.on_connect = lambda *_args: connected.set()

        def on_message(client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
            self.messages.put(message)
            if ack:
                client.ack(message.mid, message.qos)

        self.client.on_message = on_message
        self.client.connect("127.0.0.1", platform.mqtt_port)
        self.client.loop_start()
        assert connected.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_unacknowledged_and_stored_downlink_reach_a_reconnecting_device(platform: Running) -> None:
    provisioned = provision(platform, COMMANDS)
    realm, device_id, secret, base = (
        provisioned.realm,
        provisioned.device_id,
        provisioned.secret,
        provisioned.base,
    )
    with platform.client() as api:
        orders = f"/appengine/v1/{realm}/devices/{device_id}/interfaces/org.acme.Orders"

        silent = PersistentDevice(platform, base, secret, ack=False)
        silent.client.subscribe(f"{base}/org.acme.Orders/#", qos=1)
        time.sleep(0.5)
        api.post(f"{orders}/kept", json={"data": 1.0})
        first = silent.messages.get(timeout=5)
        time.sleep(6.0)  # longer than amqtt's fixed 5 s in-flight timeout
        silent.close()
        time.sleep(0.5)
        api.post(f"{orders}/kept", json={"data": 2.0})
        api.post(f"{orders}/dropped", json={"data": 3.0})
        time.sleep(1.0)

        back = PersistentDevice(platform, base, secret, ack=True)
        redelivered = [back.messages.get(timeout=10) for _ in range(2)]
        time.sleep(1.0)
        extra = back.messages.qsize()
        back.close()

    assert bson.decode(first.payload) == {"v": 1.0} and not first.dup
    payloads = sorted((bson.decode(m.payload)["v"], m.topic) for m in redelivered)
    assert payloads == [(1.0, f"{base}/org.acme.Orders/kept"), (2.0, f"{base}/org.acme.Orders/kept")]
    assert any(m.dup for m in redelivered if bson.decode(m.payload)["v"] == 1.0)
    assert extra == 0  # the value on the discard mapping was not kept for the offline device
