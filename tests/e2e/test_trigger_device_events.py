"""Device triggers on registration and on interfaces added or removed by introspection."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Running, provision
from tests.e2e.test_triggers_webhooks import IFACE, close, connect, install
from tests.e2e.webhook_receiver import Receiver, serve
from tests.helpers import random_device_id


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver, server = serve()
    yield receiver
    server.shutdown()


def _device_trigger(name: str, on: str, url: str) -> dict[str, object]:
    return {
        "name": name,
        "action": {"http_url": url, "http_method": "post"},
        "simple_triggers": [{"type": "device_trigger", "on": on, "device_id": "*"}],
    }


def test_registration_and_introspection_changes_fire(platform: Running, receiver: Receiver) -> None:
    device = provision(platform, IFACE, settle=0, declared=False)
    realm = device.realm
    for name, on in (
        ("registered", "device_registered"),
        ("added", "interface_added"),
        ("removed", "interface_removed"),
    ):
        install(platform, realm, "triggers", _device_trigger(name, on, receiver.url(f"/{realm}/{name}")))
    time.sleep(1.0)

    newcomer = random_device_id()
    with platform.client() as api:
        api.post(f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": newcomer}})
    [registered] = receiver.wait(f"/{realm}/registered")
    client = connect(platform, device)  # introspection org.acme.Hot:1:0
    [added] = receiver.wait(f"/{realm}/added")
    client.publish(device.base, b"", qos=2).wait_for_publish(10)  # an empty introspection
    [removed] = receiver.wait(f"/{realm}/removed")
    close(client)

    assert registered.json()["device_id"] == newcomer
    assert registered.json()["event"]["type"] == "device_registered"
    assert added.json()["event"] == {
        "type": "interface_added",
        "interface": "org.acme.Hot",
        "major_version": 1,
        "minor_version": 0,
    }
    assert removed.json()["event"]["type"] == "interface_removed"
    assert removed.json()["event"]["interface"] == "org.acme.Hot"
