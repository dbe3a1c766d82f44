"""A reading from a real MQTT client reaches a query answer on ``headwater up``; bad input is refused."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import bson
import paho.mqtt.client as mqtt
import pytest
from aiokafka import AIOKafkaConsumer

from schemas.records import dead_letters, device_events
from tests.e2e.conftest import Running
from tests.helpers import random_device_id

IFACE = "org.acme.Temperature"
INTERFACE = {
    "interface_name": IFACE,
    "version_major": 0,
    "version_minor": 1,
    "type": "datastream",
    "ownership": "device",
    "mappings": [{"endpoint": "/%{sensor}/value", "type": "double"}],
}


@pytest.fixture(scope="module")
def realm(platform: Running) -> str:
    name = f"r{uuid.uuid4().hex[:8]}"
    with platform.client() as client:
        assert client.post("/housekeeping/v1/realms", json={"data": {"realm_name": name}}).status_code == 201
        answer = client.post(f"/realmmanagement/v1/{name}/interfaces", json={"data": INTERFACE})
        assert answer.status_code == 201, answer.text
    time.sleep(1.0)  # brokers learn of the interface through the registry topic within a second
    return name


def register(platform: Running, realm: str) -> tuple[str, str]:
    device = random_device_id()
    with platform.client() as client:
        answer = client.post(f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": device}})
    assert answer.status_code == 201, answer.text
    return device, answer.json()["data"]["credentials_secret"]


class Device:
    """A paho-mqtt client connected as a device."""

    def __init__(self, platform: Running, realm: str, device_id: str, secret: str) -> None:
        self.base = f"{realm}/{device_id}"
        self.connected = threading.Event()
        self.reason: Any = None
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.base)
        self.client.username_pw_set(self.base, secret)
        self.client.on_connect = self._on_connect
        self.client.connect("127.0.0.1", platform.mqtt_port)
        self.client.loop_start()

    def _on_connect(self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self.reason = reason
        self.connected.set()

    def wait_connected(self) -> bool:
        assert self.connected.wait(10), "no CONNACK"
        if self.reason.is_failure:
            return False
        self.client.publish(self.base, f"{IFACE}:0:1".encode(), qos=2)  # the introspection
        return True

    def publish(self, topic: str, value: Any) -> float:
        """Publish at QoS 1 and wait for the PUBACK; the time it was sent."""
        sent = time.monotonic()
        info = self.client.publish(topic, bson.encode({"v": value}), qos=1)
        info.wait_for_publish(10)
        assert info.is_published()
        return sent

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def dead_letters_of(platform: Running, topic: str, device_id: str, reason: str) -> list[dict[str, Any]]:
    return asyncio.run(
        _read(
            platform,
            topic,
            lambda data: dead_letters().decode(data),
            lambda r: r["device_id"] == device_id and r["reason"] == reason,
        )
    )


def device_events_of(platform: Running, topic: str, device_id: str, kind: str) -> list[dict[str, Any]]:
    return asyncio.run(
        _read(
            platform,
            topic,
            lambda data: device_events().decode(data),
            lambda r: r["device_id"] == device_id and r["type"] == kind,
        )
    )


async def _read(platform: Running, topic: str, decode: Any, wanted: Any) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=f"127.0.0.1:{platform.kafka_port}",
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 10
        while not found and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            found += [r for ms in batch.values() for m in ms if wanted(r := decode(m.value))]
    finally:
        await consumer.stop()
    return found


def test_a_reading_is_queryable_within_a_second(platform: Running, realm: str) -> None:
    device_id, secret = register(platform, realm)
    device = Device(platform, realm, device_id, secret)
    assert device.wait_connected()
    path = f"/appengine/v1/{realm}/devices/{device_id}/interfaces/{IFACE}"
    with platform.client() as client:
        sent = device.publish(f"{device.base}/{IFACE}/room1/value", 21.5)
        data: list[dict[str, Any]] = []
        while not data and time.monotonic() - sent < 5:
            data = client.get(f"{path}/room1/value").json()["data"]
        queryable_after = time.monotonic() - sent
        snapshot = client.get(path).json()["data"]
    device.close()

    assert queryable_after < 1.0
    assert [sample["value"] for sample in data] == [21.5]
    assert data[0]["timestamp"].endswith("Z") and data[0]["reception_timestamp"].endswith("Z")
    assert snapshot == {"room1": {"value": data[0]}}


def test_a_wrong_secret_is_refused_at_connect(platform: Running, realm: str) -> None:
    device_id, _ = register(platform, realm)
    device = Device(platform, realm, device_id, "not-the-secret")

    accepted = device.wait_connected()
    device.close()

    assert not accepted
    assert device.reason == "Not authorized"


def test_a_publish_on_another_devices_topic_is_stored_nowhere(platform: Running, realm: str) -> None:
    mine, secret = register(platform, realm)
    theirs, _ = register(platform, realm)
    device = Device(platform, realm, mine, secret)
    assert device.wait_connected()

    device.publish(f"{realm}/{theirs}/{IFACE}/room1/value", 99.0)
    device.publish(f"{device.base}/{IFACE}/room1/value", 1.0)  # stored: proves the path was flushed
    with platform.client() as client:
        deadline = time.monotonic() + 5
        while not client.get(f"/appengine/v1/{realm}/devices/{mine}/interfaces/{IFACE}/room1/value").json()[
            "data"
        ]:
            assert time.monotonic() < deadline
        theirs_data = client.get(
            f"/appengine/v1/{realm}/devices/{theirs}/interfaces/{IFACE}/room1/value"
        ).json()
    device.close()

    assert theirs_data == {"data": []}
    letters = dead_letters_of(platform, "hw.dlq", mine, "unauthorized_topic")
    assert letters and letters[0]["topic"] == f"{realm}/{theirs}/{IFACE}/room1/value"


def test_a_value_of_the_wrong_type_goes_to_the_dead_letter_topic(platform: Running, realm: str) -> None:
    device_id, secret = register(platform, realm)
    device = Device(platform, realm, device_id, secret)
    assert device.wait_connected()

    device.publish(f"{device.base}/{IFACE}/room1/value", "hot")
    device.publish(f"{device.base}/{IFACE}/room2/value", 2.0)
    with platform.client() as client:
        deadline = time.monotonic() + 5
        while not client.get(
            f"/appengine/v1/{realm}/devices/{device_id}/interfaces/{IFACE}/room2/value"
        ).json()["data"]:
            assert time.monotonic() < deadline
        room1 = client.get(f"/appengine/v1/{realm}/devices/{device_id}/interfaces/{IFACE}/room1/value").json()
        metrics = client.get("/metrics").text
    device.close()

    assert room1 == {"data": []}
    letters = dead_letters_of(platform, "hw.dlq", device_id, "unexpected_value_type")
    assert letters and bson.decode(letters[0]["payload"]) == {"v": "hot"} and letters[0]["detail"]
    assert device_events_of(platform, "hw.device-events", device_id, "device_error")
    assert 'headwater_messages_rejected_total{reason="unexpected_value_type"}' in metrics


def test_health_and_metrics(platform: Running) -> None:
    with platform.client() as client:
        health = client.get("/health")
        metrics = client.get("/metrics")

    assert health.status_code == 200
    assert health.json()["status"] == "pass"
    assert set(health.json()) >= {"status", "version", "commit", "description", "build_time"}
    for name in (
        "headwater_messages_received_total",
        "headwater_rows_persisted_total",
        "headwater_readings_forwarded_total",
    ):
        assert name in metrics.text


def test_api_errors_are_json_4xx(platform: Running, realm: str) -> None:
    with platform.client() as client:
        duplicate_realm = client.post("/housekeeping/v1/realms", json={"data": {"realm_name": realm}})
        bad_realm = client.post("/housekeeping/v1/realms", json={"data": {"realm_name": "Not A Realm"}})
        bad_interface = client.post(
            f"/realmmanagement/v1/{realm}/interfaces",
            json={"data": {**INTERFACE, "version_major": 0, "version_minor": 0}},
        )
        duplicate_interface = client.post(f"/realmmanagement/v1/{realm}/interfaces", json={"data": INTERFACE})
        bad_device = client.post(f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": "short"}})
        device_id, _ = register(platform, realm)
        bad_since = client.get(
            f"/appengine/v1/{realm}/devices/{device_id}/interfaces/{IFACE}/a/value",
            params={"since": "yesterday"},
        )
        unknown_device = client.get(f"/appengine/v1/{realm}/devices/{random_device_id()}/interfaces/{IFACE}")
        malformed = client.post(
            "/housekeeping/v1/realms", content=b"{not json", headers={"Content-Type": "application/json"}
        )
    anonymous = httpx_get(platform, "/housekeeping/v1/realms")

    assert duplicate_realm.status_code == 409
    assert bad_realm.status_code == 422
    assert bad_interface.status_code == 422 and "version" in str(bad_interface.json()["errors"]["detail"])
    assert duplicate_interface.status_code == 409
    assert bad_device.status_code == 422
    assert bad_since.status_code == 400 and "since" in bad_since.json()["errors"]["detail"]
    assert unknown_device.status_code == 404
    assert malformed.status_code == 400
    assert anonymous.status_code == 401 and "errors" in anonymous.json()


def httpx_get(platform: Running, path: str) -> Any:
    import httpx

    return httpx.get(platform.api + path, timeout=10)


def test_plain_clients_may_send_the_json_form(platform: Running, realm: str) -> None:
    device_id, secret = register(platform, realm)
    device = Device(platform, realm, device_id, secret)
    assert device.wait_connected()

    info = device.client.publish(f"{device.base}/{IFACE}/json/value", b'{"v": 19.25}', qos=1)
    info.wait_for_publish(10)
    with platform.client() as client:
        deadline = time.monotonic() + 5
        path = f"/appengine/v1/{realm}/devices/{device_id}/interfaces/{IFACE}/json/value"
        while not (data := client.get(path).json()["data"]):
            assert time.monotonic() < deadline
    device.close()

    assert [sample["value"] for sample in data] == [19.25]
