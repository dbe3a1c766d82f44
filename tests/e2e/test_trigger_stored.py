"""A value_stored trigger fires after the insert: its webhook finds the value in the API."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import bson
import httpx
import paho.mqtt.client as mqtt
import pytest

from tests.e2e.conftest import Running, introspection, provision
from tests.e2e.webhook_receiver import Receiver, serve
from tests.helpers import temperature_interface


@pytest.fixture
def receiver() -> Any:
    found, server = serve()
    yield found
    server.shutdown()


def test_value_stored_webhooks_come_after_the_value_is_queryable(
    platform: Running, receiver: Receiver
) -> None:
    device = provision(platform, temperature_interface(), settle=0)
    hook = f"/{device.realm}/stored"
    trigger = {
        "name": "stored",
        "action": {"http_url": receiver.url(hook), "http_method": "post"},
        "simple_triggers": [
            {
                "type": "data_trigger",
                "on": "value_stored",
                "interface_name": "org.acme.Temperature",
                "interface_major": 0,
                "match_path": "/*",
                "value_match_operator": "*",
            }
        ],
    }
    samples = (
        f"{platform.api}/appengine/v1/{device.realm}/devices/{device.device_id}"
        "/interfaces/org.acme.Temperature/s1/value"
    )
    headers = {"Authorization": f"Bearer {platform.key}"}
    receiver.check[hook] = lambda: httpx.get(samples, headers=headers, timeout=5).json().get("data")
    with platform.client() as api:
        answer = api.post(f"/realmmanagement/v1/{device.realm}/triggers", json={"data": trigger})
        assert answer.status_code == 201, answer.text
    time.sleep(1.0)

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device.base)
    client.username_pw_set(device.base, device.secret)
    client.connect("127.0.0.1", platform.mqtt_port)
    client.loop_start()
    client.publish(device.base, introspection(temperature_interface()), qos=2)
    for value in (20.5, 21.5, 22.5):
        payload = bson.encode({"v": value, "t": datetime.now(UTC)})
        client.publish(f"{device.base}/org.acme.Temperature/s1/value", payload, qos=1).wait_for_publish(10)
        time.sleep(0.3)
    got = receiver.wait(hook, 3)
    client.loop_stop()
    client.disconnect()

    for request in got:
        value = request.json()["event"]["value"]
        assert value in [sample["value"] for sample in request.checked or []], value
