"""Server-owned interfaces: values posted through AppEngine reach the connected device within a second."""

from __future__ import annotations

import queue
import time
from typing import Any

import bson
import paho.mqtt.client as mqtt

from tests.e2e.conftest import Running, provision
from tests.helpers import random_device_id

COMMANDS = {
    "interface_name": "org.acme.Commands",
    "version_major": 0,
    "version_minor": 1,
    "type": "datastream",
    "ownership": "server",
    "mappings": [
        {"endpoint": "/%{lamp}/level", "type": "double", "reliability": "guaranteed"},
        {"endpoint": "/%{lamp}/label", "type": "string", "reliability": "unique"},
    ],
}
SETTINGS = {
    "interface_name": "org.acme.Settings",
    "version_major": 0,
    "version_minor": 1,
    "type": "properties",
    "ownership": "server",
    "mappings": [
        {"endpoint": "/%{lamp}/enabled", "type": "boolean", "allow_unset": True},
        {"endpoint": "/%{lamp}/name", "type": "string"},
    ],
}
SCENE = {
    "interface_name": "org.acme.Scene",
    "version_major": 0,
    "version_minor": 1,
    "type": "datastream",
    "ownership": "server",
    "aggregation": "object",
    "mappings": [
        {"endpoint": "/%{room}/brightness", "type": "double"},
        {"endpoint": "/%{room}/colour", "type": "string"},
    ],
}


def test_downlink_reaches_the_device_within_a_second(platform: Running) -> None:
    report = {**COMMANDS, "interface_name": "org.acme.Report", "ownership": "device"}
    provisioned = provision(platform, COMMANDS, SETTINGS, SCENE, report)
    realm, device_id, secret, base = (
        provisioned.realm,
        provisioned.device_id,
        provisioned.secret,
        provisioned.base,
    )
    with platform.client() as api:
        received: queue.Queue[tuple[str, bytes, float]] = queue.Queue()
        device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=base)
        device.username_pw_set(base, secret)
        device.on_message = lambda _c, _u, m: received.put((m.topic, m.payload, time.monotonic()))
        device.connect("127.0.0.1", platform.mqtt_port)
        device.loop_start()
        for name in ("org.acme.Commands", "org.acme.Settings", "org.acme.Scene"):
            device.subscribe(f"{base}/{name}/#", qos=2)
        time.sleep(0.5)
        appengine = f"/appengine/v1/{realm}/devices/{device_id}/interfaces"

        def call(method: str, path: str, data: Any = None) -> tuple[int, float]:
            sent = time.monotonic()
            body = None if method == "DELETE" else {"json": {"data": data}}
            answer = api.request(method, f"{appengine}/{path}", **(body or {}))
            return answer.status_code, sent

        sent = [
            call("POST", "org.acme.Commands/kitchen/level", 0.75),
            call("PUT", "org.acme.Settings/kitchen/enabled", True),
            call("DELETE", "org.acme.Settings/kitchen/enabled"),
            call("POST", "org.acme.Scene/lounge", {"brightness": 0.5, "colour": "amber"}),
            call("POST", "org.acme.Settings/kitchen/name", "Kitchen"),  # POST sets a property too
        ]
        messages = [received.get(timeout=5) for _ in sent]
        refused = {
            "device-owned": api.post(
                "/housekeeping/v1/realms", json={"data": {"realm_name": realm}}
            ).status_code,
            "bad value": call("POST", "org.acme.Commands/kitchen/level", "bright")[0],
            "no mapping": call("POST", "org.acme.Commands/kitchen/nothing", 1.0)[0],
            "post of a bad property": call("POST", "org.acme.Settings/kitchen/name", 1.5)[0],
            "unset not allowed": call("DELETE", "org.acme.Settings/kitchen/name")[0],
            "unknown interface": call("POST", "org.acme.Nothing/a", 1.0)[0],
        }
        deadline = time.monotonic() + 5
        while not (stored := api.get(f"{appengine}/org.acme.Commands/kitchen/level").json()["data"]):
            assert time.monotonic() < deadline
        device.disconnect()
        device.loop_stop()

    assert [status for status, _ in sent] == [200, 200, 204, 200, 200]
    by_topic: dict[str, list[bytes]] = {}
    for topic, payload, _ in messages:
        by_topic.setdefault(topic, []).append(payload)
    assert by_topic[f"{base}/org.acme.Commands/kitchen/level"] == [bson.encode({"v": 0.75})]
    assert by_topic[f"{base}/org.acme.Settings/kitchen/enabled"] == [bson.encode({"v": True}), b""]
    assert by_topic[f"{base}/org.acme.Settings/kitchen/name"] == [bson.encode({"v": "Kitchen"})]
    [scene] = by_topic[f"{base}/org.acme.Scene/lounge"]
    assert bson.decode(scene) == {"v": {"brightness": 0.5, "colour": "amber"}}
    assert max(arrived for _, _, arrived in messages) - sent[0][1] < 1.0 + (sent[-1][1] - sent[0][1])
    assert refused == {
        "device-owned": 409,
        "bad value": 422,
        "no mapping": 422,
        "post of a bad property": 422,
        "unset not allowed": 422,
        "unknown interface": 404,
    }
    assert [sample["value"] for sample in stored] == [0.75]


def test_devices_subscribe_only_to_server_owned_interfaces_and_control(platform: Running) -> None:
    import threading

    provisioned = provision(
        platform, COMMANDS, {**COMMANDS, "interface_name": "org.acme.Report", "ownership": "device"}
    )
    realm, secret, base, other = provisioned.realm, provisioned.secret, provisioned.base, random_device_id()
    answered = threading.Event()
    codes: list[Any] = []
    device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=base)
    device.username_pw_set(base, secret)

    def on_subscribe(_c: Any, _u: Any, _mid: Any, reason_codes: list[Any], _p: Any) -> None:
        codes.extend(reason_codes)
        answered.set()

    device.on_subscribe = on_subscribe
    device.connect("127.0.0.1", platform.mqtt_port)
    device.loop_start()
    device.subscribe(
        [
            (f"{base}/org.acme.Commands/#", 2),
            (f"{base}/control/consumer/properties", 2),
            (f"{base}/org.acme.Report/#", 1),
            (f"{base}/#", 1),
            (f"{realm}/{other}/org.acme.Commands/#", 1),
        ]
    )
    assert answered.wait(10)
    device.disconnect()
    device.loop_stop()

    assert [code.is_failure for code in codes] == [False, False, True, True, True]
