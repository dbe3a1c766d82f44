"""Triggers scoped to a group fire for its members only, following membership changes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Running, provision
from tests.e2e.test_triggers_webhooks import connect, install
from tests.e2e.webhook_receiver import Receiver, serve
from tests.helpers import random_device_id


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver, server = serve()
    yield receiver
    server.shutdown()


def test_a_group_trigger_fires_for_members_only(platform: Running, receiver: Receiver) -> None:
    member = provision(platform, settle=0)
    realm = member.realm
    with platform.client() as api:
        outsider = random_device_id()
        outsider_secret = api.post(
            f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": outsider}}
        ).json()["data"]["credentials_secret"]
        created = api.post(
            f"/appengine/v1/{realm}/groups",
            json={"data": {"group_name": "boilers", "devices": [member.device_id]}},
        )
    assert created.status_code == 201
    hook = f"/groups-{realm}"
    install(
        platform,
        realm,
        "triggers",
        {
            "name": "boiler_online",
            "action": {"http_url": receiver.url(hook), "http_method": "post"},
            "simple_triggers": [
                {"type": "device_trigger", "on": "device_connected", "group_name": "boilers"}
            ],
        },
    )
    time.sleep(1.0)

    outsider_client = connect(platform, type(member)(realm, outsider, outsider_secret))
    member_client = connect(platform, member)
    [event] = receiver.wait(hook, 1)
    time.sleep(1.0)
    received = receiver.on(hook)
    for client in (outsider_client, member_client):
        client.disconnect()
        client.loop_stop()

    assert event.json()["device_id"] == member.device_id
    assert event.json()["event"]["type"] == "device_connected"
    assert len(received) == 1
