"""Delivery policies on ``headwater up``: prefetch_count deliveries at once, the oldest beyond
maximum_capacity dropped and counted, the realm's default for triggers naming none."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.conftest import Running, provision
from tests.e2e.test_triggers_webhooks import IFACE, PROPAGATION, close, connect, install, publish, threshold
from tests.e2e.webhook_receiver import Receiver, serve

DROPPED = re.compile(r'^headwater_trigger_deliveries_total\{outcome="dropped"\} (\S+)$', re.M)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver, server = serve()
    yield receiver
    for gate in receiver.hold.values():
        gate.set()
    server.shutdown()


def dropped(platform: Running) -> float:
    with platform.client() as api:
        found = DROPPED.search(api.get("/metrics").text)
    return float(found.group(1)) if found else 0.0


def wait_for(what: str, check: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {within} s"
        time.sleep(0.05)


def test_two_in_flight_and_the_oldest_waiting_dropped(platform: Running, receiver: Receiver) -> None:
    device = provision(platform, IFACE, settle=0)
    hook = f"/{device.realm}/narrow"
    policy = {
        "name": "narrow",
        "error_handlers": [{"on": "any_error", "strategy": "discard"}],
        "maximum_capacity": 1,
        "prefetch_count": 2,
    }
    install(platform, device.realm, "policies", policy)
    install(platform, device.realm, "triggers", threshold("narrow", receiver.url(hook), policy="narrow"))
    receiver.hold[hook] = gate = threading.Event()
    before = dropped(platform)
    time.sleep(PROPAGATION)

    client = connect(platform, device)
    for value in (31.0, 32.0):
        publish(client, device, value)
    wait_for("two held deliveries", lambda: len(receiver.on(hook)) == 2)
    for value in (33.0, 34.0, 35.0):  # one may wait: 33 and then 34 are pushed out
        publish(client, device, value)
    wait_for("two drops", lambda: dropped(platform) - before >= 2)
    held = len(receiver.on(hook))
    gate.set()
    got = receiver.wait(hook, 3)
    close(client)

    assert held == 2  # a third delivery did not start while two were in flight
    assert sorted(r.json()["event"]["value"] for r in got[:2]) == [31.0, 32.0]
    assert got[2].json()["event"]["value"] == 35.0
    assert dropped(platform) - before == 2


def test_a_trigger_naming_no_policy_follows_the_realm_default(platform: Running, receiver: Receiver) -> None:
    device = provision(platform, IFACE, settle=0)
    hook = f"/{device.realm}/plain"
    policy = {
        "name": "retrying",
        "error_handlers": [{"on": "any_error", "strategy": "retry"}],
        "maximum_capacity": 100,
        "retry_times": 3,
    }
    install(platform, device.realm, "policies", policy)
    install(platform, device.realm, "triggers", threshold("plain", receiver.url(hook)))
    default = f"/realmmanagement/v1/{device.realm}/config/default-policy"
    with platform.client() as api:
        assert api.put(default, json={"data": {"name": "retrying"}}).status_code == 200
    receiver.fail[hook] = 2
    time.sleep(PROPAGATION)

    client = connect(platform, device)
    publish(client, device, 31.0)
    retried = receiver.wait(hook, 3)
    with platform.client() as api:
        assert api.put(default, json={"data": {"name": None}}).status_code == 200
    receiver.fail[hook] = 1
    time.sleep(PROPAGATION)
    publish(client, device, 32.0)  # fails once: Astarte's default discards it
    publish(client, device, 33.0)
    got = receiver.wait(hook, 5)
    close(client)

    assert [r.json()["event"]["value"] for r in retried] == [31.0, 31.0, 31.0]
    assert [r.json()["event"]["value"] for r in got[3:]] == [32.0, 33.0]
