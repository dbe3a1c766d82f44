"""AppEngine PATCH on devices: aliases, attributes, and credentials inhibition that disconnects."""

from __future__ import annotations

import time
import uuid

from tests.e2e.conftest import Running, mqtt_connect
from tests.helpers import random_device_id


def test_aliases_attributes_and_inhibition(platform: Running) -> None:
    realm, device_id, other = f"r{uuid.uuid4().hex[:8]}", random_device_id(), random_device_id()
    with platform.client() as api:
        api.post("/housekeeping/v1/realms", json={"data": {"realm_name": realm}})
        secret = api.post(f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": device_id}}).json()[
            "data"
        ]["credentials_secret"]
        api.post(f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": other}})
        devices = f"/appengine/v1/{realm}/devices"
        patched = api.patch(
            f"{devices}/{device_id}",
            json={
                "data": {"aliases": {"name": "boiler-1", "serial": "SN42"}, "attributes": {"site": "north"}}
            },
        )
        removed = api.patch(f"{devices}/{device_id}", json={"data": {"aliases": {"serial": None}}})
        taken = api.patch(f"{devices}/{other}", json={"data": {"aliases": {"name": "boiler-1"}}})
        unknown_field = api.patch(f"{devices}/{device_id}", json={"data": {"colour": "red"}})
        by_alias = api.get(f"/appengine/v1/{realm}/devices-by-alias/boiler-1")
        client, reason, dropped = mqtt_connect(platform, f"{realm}/{device_id}", secret)
        inhibited = api.patch(f"{devices}/{device_id}", json={"data": {"credentials_inhibited": True}})
        was_dropped = dropped.wait(5)
        client.loop_stop()
        again, refused, _ = mqtt_connect(platform, f"{realm}/{device_id}", secret)
        again.loop_stop()
        api.patch(f"{devices}/{device_id}", json={"data": {"credentials_inhibited": False}})
        time.sleep(0.5)
        back, allowed, _ = mqtt_connect(platform, f"{realm}/{device_id}", secret)
        back.disconnect()
        back.loop_stop()

    assert patched.status_code == 200
    assert patched.json()["data"]["aliases"] == {"name": "boiler-1", "serial": "SN42"}
    assert patched.json()["data"]["attributes"] == {"site": "north"}
    assert removed.json()["data"]["aliases"] == {"name": "boiler-1"}
    assert taken.status_code == 409
    assert unknown_field.status_code == 422
    assert by_alias.json()["data"]["id"] == device_id
    assert not reason.is_failure
    assert inhibited.json()["data"]["credentials_inhibited"] is True
    assert was_dropped
    assert refused.is_failure
    assert not allowed.is_failure
