"""Device data through ``headwater up`` to AppEngine answers: properties with unset, objects, every type."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import bson
import paho.mqtt.client as mqtt
import pytest

from tests.e2e.conftest import Running
from tests.helpers import random_device_id

AT = datetime(2024, 1, 1, 12, 0, 0, 250_000, tzinfo=UTC)
AT_ISO = "2024-01-01T12:00:00.250Z"
BIG = 2**40
TYPES: dict[str, tuple[Any, Any]] = {
    "double": (21.5, 21.5),
    "integer": (7, 7),
    "boolean": (True, True),
    "longinteger": (bson.Int64(BIG), str(BIG)),
    "string": ("café", "café"),
    "binaryblob": (b"\x00\xff", base64.b64encode(b"\x00\xff").decode()),
    "datetime": (AT, AT_ISO),
    "doublearray": ([1.5, 2.5], [1.5, 2.5]),
    "integerarray": ([1, -2], [1, -2]),
    "booleanarray": ([True, False], [True, False]),
    "longintegerarray": ([bson.Int64(BIG)], [str(BIG)]),
    "stringarray": (["a", "b"], ["a", "b"]),
    "binaryblobarray": ([b"\x01"], ["AQ=="]),
    "datetimearray": ([AT], [AT_ISO]),
}
PROPS, OBJ, TYPED = "org.acme.e2e.Settings", "org.acme.e2e.Event", "org.acme.e2e.Types"
INTERFACES = [
    {
        "interface_name": PROPS,
        "version_major": 0,
        "version_minor": 1,
        "type": "properties",
        "ownership": "device",
        "mappings": [
            {"endpoint": "/%{room}/target", "type": "double", "allow_unset": True},
            {"endpoint": "/%{room}/label", "type": "string"},
        ],
    },
    {
        "interface_name": OBJ,
        "version_major": 0,
        "version_minor": 1,
        "type": "datastream",
        "ownership": "device",
        "aggregation": "object",
        "mappings": [
            {"endpoint": "/%{sensor}/t", "type": "double", "explicit_timestamp": True},
            {"endpoint": "/%{sensor}/n", "type": "integer", "explicit_timestamp": True},
            {"endpoint": "/%{sensor}/big", "type": "longinteger", "explicit_timestamp": True},
        ],
    },
    {
        "interface_name": TYPED,
        "version_major": 0,
        "version_minor": 1,
        "type": "datastream",
        "ownership": "device",
        "mappings": [{"endpoint": f"/v/{t}", "type": t, "explicit_timestamp": True} for t in TYPES],
    },
]


class Device:
    """A paho-mqtt device that publishes raw payloads at QoS 1 and waits for each PUBACK."""

    def __init__(self, platform: Running, realm: str, device_id: str, secret: str) -> None:
        self.base = f"{realm}/{device_id}"
        self.connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.base)
        self.client.username_pw_set(self.base, secret)
        self.client.on_connect = lambda *_: self.connected.set()
        self.client.connect("127.0.0.1", platform.mqtt_port)
        self.client.loop_start()
        assert self.connected.wait(10), "no CONNACK"

    def send(self, subtopic: str, payload: bytes) -> None:
        topic = f"{self.base}/{subtopic}" if subtopic else self.base  # the base topic: introspection
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(10)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def device(platform: Running) -> Iterator[tuple[str, str, Device]]:
    realm = f"r{uuid.uuid4().hex[:8]}"
    device_id = random_device_id()
    with platform.client() as client:
        assert client.post("/housekeeping/v1/realms", json={"data": {"realm_name": realm}}).status_code == 201
        for interface in INTERFACES:
            answer = client.post(f"/realmmanagement/v1/{realm}/interfaces", json={"data": interface})
            assert answer.status_code == 201, answer.text
        answer = client.post(f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": device_id}})
        assert answer.status_code == 201, answer.text
    time.sleep(1.0)  # brokers learn of new interfaces through the registry topic within a second
    connected = Device(platform, realm, device_id, answer.json()["data"]["credentials_secret"])
    connected.send("", ";".join(f"{i['interface_name']}:0:1" for i in INTERFACES).encode())  # introspection
    yield realm, device_id, connected
    connected.close()


def until(check: Callable[[], Any], within: float = 15.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_properties_latest_wins_and_an_unset_disappears(
    platform: Running, device: tuple[str, str, Device]
) -> None:
    realm, device_id, mqtt_device = device
    mqtt_device.send(f"{PROPS}/kitchen/target", bson.encode({"v": 20.0}))
    mqtt_device.send(f"{PROPS}/kitchen/target", bson.encode({"v": 20.5}))
    mqtt_device.send(f"{PROPS}/kitchen/label", bson.encode({"v": "Kitchen"}))
    mqtt_device.send(f"{PROPS}/hall/target", bson.encode({"v": 18.0}))
    mqtt_device.send(f"{PROPS}/hall/target", b"")  # unset
    wanted = {"kitchen": {"target": 20.5, "label": "Kitchen"}}
    base = f"/appengine/v1/{realm}/devices/{device_id}/interfaces/{PROPS}"
    with platform.client() as client:
        snapshot = until(lambda: (d := client.get(base).json().get("data")) == wanted and d)
        one = client.get(f"{base}/kitchen/target")
        unset = client.get(f"{base}/hall/target")

    assert snapshot == wanted
    assert one.json() == {"data": 20.5}
    assert unset.status_code == 404


def test_an_object_reads_back_as_objects(platform: Running, device: tuple[str, str, Device]) -> None:
    realm, device_id, mqtt_device = device
    for n in range(3):
        value = {"t": 1.5 + n, "n": n, "big": bson.Int64(BIG)}
        mqtt_device.send(f"{OBJ}/s1", bson.encode({"v": value, "t": AT.replace(second=n)}))
    base = f"/appengine/v1/{realm}/devices/{device_id}/interfaces/{OBJ}"
    with platform.client() as client:
        objects = until(lambda: len(d := client.get(f"{base}/s1").json()["data"]) == 3 and d)
        table = client.get(f"{base}/s1", params={"format": "table", "limit": 1}).json()
        snapshot = client.get(base).json()["data"]

    assert objects == [
        {"timestamp": f"2024-01-01T12:00:0{n}.250Z", "t": 1.5 + n, "n": n, "big": str(BIG)} for n in range(3)
    ]
    assert table["metadata"]["table_header"] == ["timestamp", "t", "n", "big"]
    assert table["data"] == [["2024-01-01T12:00:02.250Z", 3.5, 2, str(BIG)]]
    assert snapshot == {"s1": objects}


@pytest.mark.parametrize("value_type", list(TYPES))
def test_each_value_type_round_trips(
    platform: Running, device: tuple[str, str, Device], value_type: str
) -> None:
    realm, device_id, mqtt_device = device
    sent, expected = TYPES[value_type]
    mqtt_device.send(f"{TYPED}/v/{value_type}", bson.encode({"v": sent, "t": AT}))
    path = f"/appengine/v1/{realm}/devices/{device_id}/interfaces/{TYPED}/v/{value_type}"
    with platform.client() as client:
        data = until(lambda: client.get(path).json()["data"])
        allowed = client.get(path, params={"allow_bigintegers": "true"}).json()["data"]

    assert [(d["value"], d["timestamp"]) for d in data] == [(expected, AT_ISO)]
    if value_type.startswith("longinteger"):
        assert allowed[0]["value"] == (BIG if value_type == "longinteger" else [BIG])


def test_a_read_right_after_the_puback_finds_the_value(
    platform: Running, device: tuple[str, str, Device]
) -> None:
    """Astarte clients read back what a device just sent, without waiting: once the broker
    acknowledged a message (after Kafka took it), a read waits for it to be stored."""
    realm, device_id, mqtt_device = device
    base = f"/appengine/v1/{realm}/devices/{device_id}/interfaces/{TYPED}"
    seen = []
    with platform.client() as client:
        for n in range(5):
            mqtt_device.send(f"{TYPED}/v/integer", bson.encode({"v": 100 + n, "t": AT.replace(minute=n + 1)}))
            snapshot = client.get(base).json()["data"]
            seen.append(snapshot["v"]["integer"]["value"])

    assert seen == [100, 101, 102, 103, 104]
