"""``headwater up`` restarts a child that stops: the worker, the broker, even Tansu (whose data is gone)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import bson
import httpx

from tests.e2e.conftest import Running, mqtt_connect, provision, start_up
from tests.e2e.killrun import child, healthy, restarts_metric

INTERFACE = {
    "interface_name": "org.acme.Level",
    "version_major": 1,
    "version_minor": 0,
    "type": "datastream",
    "ownership": "device",
    "mappings": [{"endpoint": "/value", "type": "double"}],
}


def _wait(condition: object, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _restarted(running: Running, role: str) -> bool:
    assert running.process.poll() is None, "headwater up exited"
    return f"{role} restarted" in running.output.read_text()


def _round_trip(running: Running, realm: str, device: str, secret: str, value: float) -> None:
    """Publish ``value`` (QoS 1, once the broker takes connections) and wait until the API reads it."""

    def publish() -> bool:
        try:
            client, reason, _ = mqtt_connect(running, f"{realm}/{device}", secret)
        except (OSError, AssertionError):
            return False
        try:
            if reason.is_failure:
                return False
            info = client.publish(f"{realm}/{device}/org.acme.Level/value", bson.encode({"v": value}), qos=1)
            info.wait_for_publish(10)
            return info.is_published()
        finally:
            client.disconnect()
            client.loop_stop()

    _wait(publish, 60, f"the broker took {value}")
    path = f"/appengine/v1/{realm}/devices/{device}/interfaces/org.acme.Level/value"

    def stored() -> bool:
        try:
            with running.client() as api:
                answer = api.get(path)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200 and value in [v["value"] for v in answer.json()["data"]]

    _wait(stored, 60, f"{value} was stored")


def test_killed_children_are_restarted_and_data_flows_again(tmp_path: Path) -> None:
    running = start_up(tmp_path / "data")
    try:
        device = provision(running, INTERFACE)
        _round_trip(running, device.realm, device.device_id, device.secret, 1.0)

        for role, value in (("worker", 2.0), ("broker", 3.0), ("tansu", 4.0)):
            killed = child(running, role)
            killed.send_signal(signal.SIGKILL)
            _wait(lambda r=role: _restarted(running, r), 60, f"{role} restarted, headwater up still running")
            assert child(running, role).pid != killed.pid
            _wait(lambda: healthy(running), 90, "the API answers again")
            if role != "tansu":  # the registry survives; Tansu's records do not, stored rows do
                _round_trip(running, device.realm, device.device_id, device.secret, value)

        output = running.output.read_text()
        assert "worker stopped unexpectedly (killed by SIGKILL); restarting it in" in output
        assert "tansu stopped unexpectedly" in output and "lost" in output
        restarts = restarts_metric(running)
        assert restarts.get("worker", 0) >= 2  # once killed, once after Tansu
        assert restarts.get("broker", 0) >= 2
        assert restarts.get("tansu") == 1
        # After Tansu came back, the fresh Kafka carries new readings again.
        time.sleep(2)
        _round_trip(running, device.realm, device.device_id, device.secret, 5.0)
    finally:
        code = running.stop()
    assert code == 0
