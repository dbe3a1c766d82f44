"""Deleting a device on ``headwater up``: it is dropped, refused, and nothing stored of it remains."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import bson
import paho.mqtt.client as mqtt

from tests.e2e.conftest import Provisioned, Running, introspection, provision
from tests.e2e.test_interface_cli import headwater
from tests.helpers import temperature_interface


def _until(check: object, within: float = 10.0) -> object:
    deadline = time.monotonic() + within
    while not (result := check()):  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.05)
    return result


def _connect(platform: Running, device: Provisioned) -> tuple[mqtt.Client, list[int]]:
    codes: list[int] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device.base)
    client.username_pw_set(device.base, device.secret)
    client.on_connect = lambda _c, _u, _f, rc, _p: codes.append(rc.value)
    client.on_disconnect = lambda _c, _u, _f, rc, _p: codes.append(-1)
    client.reconnect_delay_set(60, 60)
    client.connect("127.0.0.1", platform.mqtt_port)
    client.loop_start()
    return client, codes


def test_a_deleted_device_is_disconnected_refused_and_its_data_erased(platform: Running) -> None:
    device = provision(platform, temperature_interface())
    samples = (
        f"/appengine/v1/{device.realm}/devices/{device.device_id}/interfaces/org.acme.Temperature/s1/value"
    )
    client, codes = _connect(platform, device)
    _until(lambda: codes == [0])
    client.publish(device.base, introspection(temperature_interface()), qos=2)
    client.publish(
        f"{device.base}/org.acme.Temperature/s1/value", bson.encode({"v": 21.5, "t": datetime.now(UTC)}), 1
    ).wait_for_publish(5)
    with platform.client() as api:
        _until(lambda: api.get(samples).json().get("data"))

    deleted = headwater(platform, "device", "delete", device.device_id, "--realm", device.realm, "--yes")
    _until(lambda: -1 in codes)
    client.loop_stop()
    again, again_codes = _connect(platform, device)
    _until(lambda: again_codes)
    again.loop_stop()
    with platform.client() as api:
        missing = api.get(f"/appengine/v1/{device.realm}/devices/{device.device_id}")
        registered = api.post(
            f"/pairing/v1/{device.realm}/agent/devices", json={"data": {"hw_id": device.device_id}}
        )
        after = api.get(samples)

    assert deleted.returncode == 0, deleted.stderr
    assert again_codes[0] != 0  # refused: not authorized
    assert missing.status_code == 404 and registered.status_code == 201
    assert after.status_code == 200 and after.json()["data"] == []
