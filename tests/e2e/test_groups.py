"""AppEngine groups on ``headwater up``: created with devices, listed, changed, shown in device status."""

from __future__ import annotations

from tests.e2e.conftest import Running, provision
from tests.helpers import random_device_id


def test_groups(platform: Running) -> None:
    first = provision(platform, settle=0)
    realm = first.realm
    with platform.client() as api:
        second = random_device_id()
        api.post(f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": second}})
        groups = f"/appengine/v1/{realm}/groups"
        created = api.post(groups, json={"data": {"group_name": "boilers", "devices": [first.device_id]}})
        duplicate = api.post(groups, json={"data": {"group_name": "boilers", "devices": [second]}})
        bad_names = [
            api.post(groups, json={"data": {"group_name": name, "devices": [second]}}).status_code
            for name in ("", "~x", "@x")
        ]
        empty = api.post(groups, json={"data": {"group_name": "none", "devices": []}})
        unknown_device = api.post(
            groups, json={"data": {"group_name": "ghosts", "devices": [random_device_id()]}}
        )
        added = api.post(f"{groups}/boilers/devices", json={"data": {"device_id": second}})
        again = api.post(f"{groups}/boilers/devices", json={"data": {"device_id": second}})
        members = api.get(f"{groups}/boilers/devices").json()["data"]
        status = api.get(f"/appengine/v1/{realm}/devices/{second}").json()["data"]
        listed = api.get(groups).json()["data"]
        removed = [api.delete(f"{groups}/boilers/devices/{d}").status_code for d in (first.device_id, second)]
        gone = api.get(f"{groups}/boilers")
        not_member = api.delete(f"{groups}/boilers/devices/{second}")

    assert created.status_code == 201
    assert duplicate.status_code == 409
    assert bad_names == [422, 422, 422]
    assert empty.status_code == 422 and unknown_device.status_code == 404
    assert added.status_code == 201 and again.status_code == 409
    assert members == sorted([first.device_id, second])
    assert status["groups"] == ["boilers"]
    assert listed == ["boilers"]
    assert removed == [204, 204]
    assert gone.status_code == 404 and not_member.status_code == 404
