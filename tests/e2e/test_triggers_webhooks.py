"""Triggers on ``headwater up``: a device publishes, a real local HTTP receiver gets Astarte's events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import bson
import paho.mqtt.client as mqtt
import pytest

from tests.e2e.conftest import Provisioned, Running, provision
from tests.e2e.webhook_receiver import Receiver, serve

IFACE = {
    "interface_name": "org.acme.Hot",
    "version_major": 1,
    "version_minor": 0,
    "type": "datastream",
    "ownership": "device",
    "mappings": [{"endpoint": "/value", "type": "double"}],
}
PROPAGATION = 1.0  # a created or deleted trigger takes effect within a second


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver, server = serve()
    yield receiver
    server.shutdown()


def threshold(name: str, url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "action": {"http_url": url, "http_method": "post", **extra.pop("action", {})},
        "simple_triggers": [
            {
                "type": "data_trigger",
                "on": "incoming_data",
                "interface_name": "org.acme.Hot",
                "interface_major": 1,
                "match_path": "/value",
                "value_match_operator": ">",
                "known_value": 30.0,
            }
        ],
        **extra,
    }


def install(platform: Running, realm: str, kind: str, definition: dict[str, Any]) -> None:
    with platform.client() as api:
        answer = api.post(f"/realmmanagement/v1/{realm}/{kind}", json={"data": definition})
    assert answer.status_code == 201, answer.text


def connect(platform: Running, device: Provisioned) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device.base)
    client.username_pw_set(device.base, device.secret)
    client.connect("127.0.0.1", platform.mqtt_port)
    client.loop_start()
    client.publish(device.base, b"org.acme.Hot:1:0", qos=2).wait_for_publish(10)
    return client


def publish(client: mqtt.Client, device: Provisioned, value: float) -> None:
    payload = bson.encode({"v": value})
    client.publish(f"{device.base}/org.acme.Hot/value", payload, qos=1).wait_for_publish(10)


def close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def test_threshold_and_device_connected_fire_astarte_events(platform: Running, receiver: Receiver) -> None:
    device = provision(platform, IFACE, settle=0)
    install(platform, device.realm, "triggers", threshold("hot", receiver.url(f"/{device.realm}/hot")))
    connected = {
        "name": "online",
        "action": {"http_url": receiver.url(f"/{device.realm}/online"), "http_method": "put"},
        "simple_triggers": [{"type": "device_trigger", "on": "device_connected"}],
    }
    install(platform, device.realm, "triggers", connected)
    time.sleep(PROPAGATION)

    client = connect(platform, device)
    publish(client, device, 20.0)
    publish(client, device, 42.5)
    hot = receiver.wait(f"/{device.realm}/hot")
    online = receiver.wait(f"/{device.realm}/online")
    time.sleep(0.5)
    close(client)

    assert len(receiver.on(f"/{device.realm}/hot")) == 1  # 20.0 is not above 30
    body = hot[0].json()
    assert body["device_id"] == device.device_id and body["trigger_name"] == "hot"
    assert body["event"] == {
        "type": "incoming_data",
        "interface": "org.acme.Hot",
        "path": "/value",
        "value": 42.5,
    }
    assert body["timestamp"].endswith("Z")
    assert hot[0].headers["Astarte-Realm"] == device.realm
    assert hot[0].headers["Content-Type"] == "application/json"
    assert online[0].method == "PUT"
    assert online[0].json()["event"] == {"type": "device_connected", "device_ip_address": "127.0.0.1"}


def test_a_failing_receiver_gets_the_event_on_retry(platform: Running, receiver: Receiver) -> None:
    device = provision(platform, IFACE, settle=0)
    path = f"/{device.realm}/flaky"
    receiver.fail[path] = 2
    policy = {
        "name": "patient",
        "error_handlers": [{"on": "any_error", "strategy": "retry"}],
        "maximum_capacity": 100,
        "retry_times": 3,
    }
    install(platform, device.realm, "policies", policy)
    install(platform, device.realm, "triggers", threshold("flaky", receiver.url(path), policy="patient"))
    time.sleep(PROPAGATION)

    client = connect(platform, device)
    publish(client, device, 31.0)
    got = receiver.wait(path, 3, within=20)
    close(client)

    assert [r.json()["event"]["value"] for r in got] == [31.0, 31.0, 31.0]
    assert receiver.fail[path] == 0
    with platform.client() as api:
        assert api.get(f"/realmmanagement/v1/{device.realm}/triggers/dead-letters").json()["data"] == []


def test_a_mustache_template_is_sent_as_text(platform: Running, receiver: Receiver) -> None:
    device = provision(platform, IFACE, settle=0)
    template = {"template": "{{device_id}} is at {{event.value}}", "template_type": "mustache"}
    path = f"/{device.realm}/text"
    install(platform, device.realm, "triggers", threshold("text", receiver.url(path), action=template))
    time.sleep(PROPAGATION)

    client = connect(platform, device)
    publish(client, device, 33.0)
    got = receiver.wait(path)
    close(client)

    assert got[0].body.decode() == f"{device.device_id} is at 33.0"
    assert got[0].headers["Content-Type"].startswith("text/plain")


def test_a_deleted_trigger_stops_firing_within_a_second(platform: Running, receiver: Receiver) -> None:
    device = provision(platform, IFACE, settle=0)
    path = f"/{device.realm}/gone"
    install(platform, device.realm, "triggers", threshold("gone", receiver.url(path)))
    time.sleep(PROPAGATION)
    client = connect(platform, device)
    publish(client, device, 40.0)
    receiver.wait(path)

    with platform.client() as api:
        assert api.delete(f"/realmmanagement/v1/{device.realm}/triggers/gone").status_code == 204
    time.sleep(PROPAGATION)
    publish(client, device, 41.0)
    time.sleep(2.0)
    close(client)

    assert len(receiver.on(path)) == 1


def test_an_undeliverable_event_is_dead_lettered_and_replayed(platform: Running, receiver: Receiver) -> None:
    device = provision(platform, IFACE, settle=0)
    path = f"/{device.realm}/dead"
    receiver.fail[path] = 1
    policy = {
        "name": "strict",
        "error_handlers": [{"on": [500], "strategy": "retry"}],
        "maximum_capacity": 10,
        "retry_times": 1,
        "event_ttl": 1,
    }
    install(platform, device.realm, "policies", policy)
    install(platform, device.realm, "triggers", threshold("dead", receiver.url(path), policy="strict"))
    time.sleep(PROPAGATION)
    client = connect(platform, device)
    publish(client, device, 50.0)
    receiver.wait(path)
    close(client)
    letters_path = f"/realmmanagement/v1/{device.realm}/triggers/dead-letters"
    with platform.client() as api:
        deadline = time.monotonic() + 10
        while not (letters := api.get(letters_path).json()["data"]):
            assert time.monotonic() < deadline, "no dead letter"
            time.sleep(0.1)
        replayed = api.post(f"{letters_path}/replay").json()["data"]
        redelivered = receiver.wait(path, 2)
        after = api.get(letters_path).json()["data"]

    assert "event_ttl" in letters[0]["reason"] and letters[0]["trigger_name"] == "dead"
    assert letters[0]["body"]["event"]["value"] == 50.0
    assert replayed == {"replayed": 1}
    assert redelivered[1].json() == redelivered[0].json()
    assert after == []


PROPS = {
    "interface_name": "org.acme.Mode",
    "version_major": 1,
    "version_minor": 0,
    "type": "properties",
    "ownership": "device",
    "mappings": [{"endpoint": "/%{zone}/mode", "type": "string", "allow_unset": True}],
}


def test_value_change_on_a_property_and_device_disconnected(platform: Running, receiver: Receiver) -> None:
    device = provision(platform, PROPS, settle=0)
    changed = {
        "name": "changed",
        "action": {"http_url": receiver.url(f"/{device.realm}/changed"), "http_method": "post"},
        "simple_triggers": [
            {
                "type": "data_trigger",
                "on": "value_change",
                "interface_name": "org.acme.Mode",
                "interface_major": 1,
                "match_path": "/%{zone}/mode",
                "value_match_operator": "*",
            }
        ],
    }
    offline = {
        "name": "offline",
        "action": {"http_url": receiver.url(f"/{device.realm}/offline"), "http_method": "post"},
        "simple_triggers": [{"type": "device_trigger", "on": "device_disconnected"}],
    }
    install(platform, device.realm, "triggers", changed)
    install(platform, device.realm, "triggers", offline)
    time.sleep(PROPAGATION)

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device.base)
    client.username_pw_set(device.base, device.secret)
    client.connect("127.0.0.1", platform.mqtt_port)
    client.loop_start()
    client.publish(device.base, b"org.acme.Mode:1:0", qos=2).wait_for_publish(10)
    for mode in ("eco", "eco", "boost"):
        payload = bson.encode({"v": mode})
        client.publish(f"{device.base}/org.acme.Mode/kitchen/mode", payload, qos=1).wait_for_publish(10)
        time.sleep(0.3)
    got = receiver.wait(f"/{device.realm}/changed", 2)
    close(client)
    gone = receiver.wait(f"/{device.realm}/offline")

    assert [r.json()["event"] for r in got] == [
        {
            "type": "value_change",
            "interface": "org.acme.Mode",
            "path": "/kitchen/mode",
            "old_value": None,
            "new_value": "eco",
        },
        {
            "type": "value_change",
            "interface": "org.acme.Mode",
            "path": "/kitchen/mode",
            "old_value": "eco",
            "new_value": "boost",
        },
    ]
    assert gone[0].json()["event"]["type"] == "device_disconnected"
