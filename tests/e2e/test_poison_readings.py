"""Readings that once stopped ingest or were stored against Astarte's rules, sent by a paho device.

A timestamp beyond what int64 microseconds hold is refused at validation: the sender gets its
PUBACK as for any refused reading, the reading lands in the dead-letter topic with a reason, and
every other device keeps getting its PUBACKs. A reading on an interface the device did not
declare in its introspection is refused the same way.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import bson
import paho.mqtt.client as mqtt
from bson.datetime_ms import DatetimeMS

from tests.e2e.conftest import Provisioned, Running, introspection, provision
from tests.e2e.test_walking_skeleton import dead_letters_of, device_events_of
from tests.helpers import random_device_id, temperature_interface

POISON_MS = 4_611_686_018_427_387_904  # 2**62 ms as a BSON datetime
TEMPERATURE = temperature_interface()  # explicit_timestamp: a device's 't' is the reading's time


def _second_device(platform: Running, realm: str) -> Provisioned:
    device_id = random_device_id()
    with platform.client() as api:
        registered = api.post(f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": device_id}})
        assert registered.status_code == 201, registered.text
    return Provisioned(realm, device_id, registered.json()["data"]["credentials_secret"])


def _connect(platform: Running, device: Provisioned, *declared: dict[str, Any]) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device.base)
    client.username_pw_set(device.base, device.secret)
    client.connect("127.0.0.1", platform.mqtt_port)
    client.loop_start()
    client.publish(device.base, introspection(*declared), qos=2).wait_for_publish(10)
    return client


def _acknowledged(client: mqtt.Client, topic: str, payload: bytes) -> bool:
    """Publish at QoS 1; whether the PUBACK came within 10 s."""
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(10)
    return info.is_published()


def _close(*clients: mqtt.Client) -> None:
    for client in clients:
        client.disconnect()
        client.loop_stop()


def test_a_poison_timestamp_is_dead_lettered_and_stops_no_one(platform: Running) -> None:
    poisoner = provision(platform, TEMPERATURE)
    bystander = _second_device(platform, poisoner.realm)
    bad = _connect(platform, poisoner, TEMPERATURE)
    good = _connect(platform, bystander, TEMPERATURE)
    topic = "org.acme.Temperature/s1/value"

    poison_acked = _acknowledged(
        bad, f"{poisoner.base}/{topic}", bson.encode({"v": 1.0, "t": DatetimeMS(POISON_MS)})
    )
    far = datetime(9999, 12, 31, tzinfo=UTC)  # fits a BSON datetime, not the store
    far_acked = _acknowledged(bad, f"{poisoner.base}/{topic}", bson.encode({"v": 2.0, "t": far}))
    others_acked = [
        _acknowledged(good, f"{bystander.base}/{topic}", bson.encode({"v": float(n), "t": datetime.now(UTC)}))
        for n in range(20)
    ]
    path = f"/appengine/v1/{poisoner.realm}/devices"
    with platform.client() as api:
        deadline = time.monotonic() + 10
        while len(api.get(f"{path}/{bystander.device_id}/interfaces/{topic}").json()["data"]) < 20:
            assert time.monotonic() < deadline
        poisoner_read = api.get(f"{path}/{poisoner.device_id}/interfaces/{topic}")
    _close(bad, good)

    assert poison_acked and far_acked  # refused readings are acknowledged, as every refused reading is
    assert all(others_acked)
    assert poisoner_read.status_code == 200 and poisoner_read.json()["data"] == []
    letters = dead_letters_of(platform, "hw.dlq", poisoner.device_id, "unexpected_value_type")
    assert {letter["topic"] for letter in letters} == {f"{poisoner.base}/{topic}"}
    assert any("'t' timestamp" in letter["detail"] for letter in letters)
    errors = device_events_of(platform, "hw.device-events", poisoner.device_id, "device_error")
    assert any(event["error_name"] == "unexpected_value_type" for event in errors)


def test_a_reading_on_an_undeclared_interface_is_refused(platform: Running) -> None:
    other = temperature_interface("org.acme.Other")
    device = provision(platform, TEMPERATURE, other)
    client = _connect(platform, device, TEMPERATURE)  # org.acme.Other is installed, not declared
    payload = bson.encode({"v": 1.0, "t": datetime.now(UTC)})

    refused_acked = _acknowledged(client, f"{device.base}/org.acme.Other/s1/value", payload)
    kept_acked = _acknowledged(client, f"{device.base}/org.acme.Temperature/s1/value", payload)
    path = f"/appengine/v1/{device.realm}/devices/{device.device_id}/interfaces"
    with platform.client() as api:
        deadline = time.monotonic() + 10
        while not api.get(f"{path}/org.acme.Temperature/s1/value").json()["data"]:
            assert time.monotonic() < deadline
        undeclared = api.get(f"{path}/org.acme.Other/s1/value")
    _close(client)

    assert refused_acked and kept_acked
    assert undeclared.status_code == 404  # as Astarte: not in the device's introspection
    letters = dead_letters_of(platform, "hw.dlq", device.device_id, "interface_loading_failed")
    assert letters and "introspection" in letters[0]["detail"]
    errors = device_events_of(platform, "hw.device-events", device.device_id, "device_error")
    assert any(event["error_name"] == "interface_loading_failed" for event in errors)
