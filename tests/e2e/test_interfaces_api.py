"""Realm management of interfaces on ``headwater up``: install, upgrade, delete; brokers follow within 1 s."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import bson
import paho.mqtt.client as mqtt
import pytest

from schemas.standard import standard_interfaces
from tests.e2e.conftest import Running
from tests.helpers import random_device_id

SDK_INTERFACES = Path(__file__).parents[1] / "data" / "sdk-interfaces"


def _realm(platform: Running) -> str:
    name = f"r{uuid.uuid4().hex[:8]}"
    with platform.client() as client:
        assert client.post("/housekeeping/v1/realms", json={"data": {"realm_name": name}}).status_code == 201
    return name


@pytest.mark.parametrize("folder", ["e2etest", "examples-mqtt", "examples-grpc"])
def test_the_official_sdk_interfaces_install_unchanged(platform: Running, folder: str) -> None:
    realm = _realm(platform)
    files = sorted((SDK_INTERFACES / folder).glob("*.json"))
    with platform.client() as client:
        answers = [
            client.post(
                f"/realmmanagement/v1/{realm}/interfaces", json={"data": json.loads(path.read_text())}
            )
            for path in files
        ]
        names = client.get(f"/realmmanagement/v1/{realm}/interfaces").json()["data"]

    assert [answer.status_code for answer in answers] == [201] * len(files)
    assert names == sorted(json.loads(path.read_text())["interface_name"] for path in files)


def test_standard_interfaces_install_and_read_back(platform: Running) -> None:
    realm = _realm(platform)
    with platform.client() as client:
        for interface in standard_interfaces():
            answer = client.post(
                f"/realmmanagement/v1/{realm}/interfaces", json={"data": interface.to_json()}
            )
            assert answer.status_code == 201, answer.text
        detailed = client.get(f"/realmmanagement/v1/{realm}/interfaces", params={"detailed": "true"}).json()
        majors = client.get(
            f"/realmmanagement/v1/{realm}/interfaces/org.astarte-platform.genericsensors.Values"
        )
        values = client.get(
            f"/realmmanagement/v1/{realm}/interfaces/org.astarte-platform.genericsensors.Values/0"
        )
        missing = client.get(f"/realmmanagement/v1/{realm}/interfaces/org.acme.Nothing")

    assert len(detailed["data"]) == 4
    assert majors.json() == {"data": [0]}
    assert values.json()["data"]["mappings"][0]["endpoint"] == "/%{sensor_id}/value"
    assert missing.status_code == 404


def test_colliding_names_are_refused(platform: Running) -> None:
    realm = _realm(platform)
    first = _interface("org.myacme.Sensor", 1, ["/value"])
    second = _interface("org.my-acme.Sensor", 1, ["/value"])
    with platform.client() as client:
        assert client.post(f"/realmmanagement/v1/{realm}/interfaces", json={"data": first}).status_code == 201
        clash = client.post(f"/realmmanagement/v1/{realm}/interfaces", json={"data": second})

    assert clash.status_code == 409 and "collides" in clash.json()["errors"]["detail"]


def test_a_minor_upgrade_reaches_the_broker_within_a_second(platform: Running) -> None:
    realm = _realm(platform)
    name = "org.acme.Upgraded"
    with platform.client() as client:
        assert (
            client.post(
                f"/realmmanagement/v1/{realm}/interfaces", json={"data": _interface(name, 1, ["/a"], major=0)}
            ).status_code
            == 201
        )
        device_id = random_device_id()
        secret = client.post(
            f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": device_id}}
        ).json()["data"]["credentials_secret"]
        wrong = client.put(
            f"/realmmanagement/v1/{realm}/interfaces/{name}/0",
            json={"data": _interface(name, 2, ["/a", "/b"])},
        )
        removing = client.put(
            f"/realmmanagement/v1/{realm}/interfaces/{name}/0",
            json={"data": _interface(name, 2, ["/b"], major=0)},
        )
        upgraded = client.put(
            f"/realmmanagement/v1/{realm}/interfaces/{name}/0",
            json={"data": _interface(name, 2, ["/a", "/b"], major=0)},
        )
        time.sleep(1.0)
        _publish(platform, realm, device_id, secret, subtopic=f"{name}/b", value=7.0)
        stored = _wait_for_data(client, f"/appengine/v1/{realm}/devices/{device_id}/interfaces/{name}/b")
        definition = client.get(f"/realmmanagement/v1/{realm}/interfaces/{name}/0").json()["data"]

    assert wrong.status_code == 422 and "path names" in wrong.json()["errors"]["detail"]
    assert removing.status_code == 422 and "cannot be removed" in removing.json()["errors"]["detail"]
    assert upgraded.status_code == 204
    assert [sample["value"] for sample in stored] == [7.0]
    assert definition["version_minor"] == 2


def test_deleting_a_draft_stops_the_broker_taking_it(platform: Running) -> None:
    realm = _realm(platform)
    draft, release = "org.acme.Draft", "org.acme.Release"
    with platform.client() as client:
        client.post(
            f"/realmmanagement/v1/{realm}/interfaces", json={"data": _interface(draft, 1, ["/a"], major=0)}
        )
        client.post(f"/realmmanagement/v1/{realm}/interfaces", json={"data": _interface(release, 1, ["/a"])})
        device_id = random_device_id()
        secret = client.post(
            f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": device_id}}
        ).json()["data"]["credentials_secret"]
        deleted = client.delete(f"/realmmanagement/v1/{realm}/interfaces/{draft}/0")
        refused = client.delete(f"/realmmanagement/v1/{realm}/interfaces/{release}/1")
        gone = client.get(f"/realmmanagement/v1/{realm}/interfaces/{draft}/0")
        time.sleep(1.0)
        _publish(platform, realm, device_id, secret, subtopic=f"{draft}/a", value=1.0)
        _publish(platform, realm, device_id, secret, subtopic=f"{release}/a", value=2.0)
        _wait_for_data(client, f"/appengine/v1/{realm}/devices/{device_id}/interfaces/{release}/a")
        metrics = client.get("/metrics").text

    assert deleted.status_code == 204
    assert refused.status_code == 422 and "major version 0" in refused.json()["errors"]["detail"]
    assert gone.status_code == 404
    assert 'headwater_messages_rejected_total{reason="interface_loading_failed"}' in metrics


def _interface(name: str, minor: int, endpoints: list[str], *, major: int = 1) -> dict[str, Any]:
    return {
        "interface_name": name,
        "version_major": major,
        "version_minor": minor,
        "type": "datastream",
        "ownership": "device",
        "mappings": [{"endpoint": endpoint, "type": "double"} for endpoint in endpoints],
    }


def _publish(
    platform: Running, realm: str, device_id: str, secret: str, *, subtopic: str, value: float
) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{realm}/{device_id}")
    client.username_pw_set(f"{realm}/{device_id}", secret)
    client.connect("127.0.0.1", platform.mqtt_port)
    client.loop_start()
    try:
        # Declared, so a refusal is about the interface the realm has (or not), not the introspection.
        client.publish(f"{realm}/{device_id}", f"{subtopic.partition('/')[0]}:1:0".encode(), qos=2)
        info = client.publish(f"{realm}/{device_id}/{subtopic}", bson.encode({"v": value}), qos=1)
        info.wait_for_publish(10)
        assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def _wait_for_data(client: Any, path: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while not (data := client.get(path).json().get("data")):
        assert time.monotonic() < deadline, f"nothing stored at {path}"
        time.sleep(0.05)
    return list(data)
