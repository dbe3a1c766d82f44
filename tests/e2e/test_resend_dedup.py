"""A QoS 1 resend (DUP set, same packet id) is stored once, as the reading it repeats."""

from __future__ import annotations

import socket
import time

import bson
from bson.datetime_ms import DatetimeMS

from tests.e2e.conftest import Provisioned, Running, introspection, provision
from tests.helpers import temperature_interface


def _string(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def _connect(platform: Running, device: Provisioned) -> socket.socket:
    """A raw MQTT 3.1.1 connection with a persistent session (clean session off), CONNACKed."""
    body = _string("MQTT") + bytes([4, 0xC0]) + (60).to_bytes(2, "big")
    body += _string(device.base) + _string(device.base) + _string(device.secret)
    sock = socket.create_connection(("127.0.0.1", platform.mqtt_port), timeout=10)
    sock.sendall(bytes([0x10, len(body)]) + body)
    connack = sock.recv(4)
    assert connack[:2] == b"\x20\x02" and connack[3] == 0, connack
    return sock


def _publish(topic: str, payload: bytes, packet_id: int, *, dup: bool) -> bytes:
    body = _string(topic) + packet_id.to_bytes(2, "big") + payload
    return bytes([0x3A if dup else 0x32, len(body)]) + body


def _puback(sock: socket.socket, packet_id: int) -> None:
    assert sock.recv(4) == b"\x40\x02" + packet_id.to_bytes(2, "big")


def _rows(platform: Running, device: Provisioned) -> list[list[object]]:
    query = (
        "SELECT path, double_value, count() FROM {db}.individual_datastreams FINAL "
        f"WHERE device_id = '{device.device_id}' GROUP BY path, double_value ORDER BY path"
    )
    with platform.client() as api:
        answer = api.post(f"/appengine/v1/{device.realm}/sql", json={"query": query})
    assert answer.status_code == 200, answer.text
    rows: list[list[object]] = answer.json()["data"]["rows"]
    return rows


def test_a_resend_after_a_lost_puback_is_stored_once(platform: Running) -> None:
    device = provision(platform, temperature_interface())
    base = f"{device.base}/org.acme.Temperature"
    timed = bson.encode({"v": 2.5, "t": DatetimeMS(1_767_225_600_000)})
    untimed = bson.encode({"v": 1.5})

    first = _connect(platform, device)
    declared = _string(device.base) + introspection(temperature_interface())
    first.sendall(bytes([0x30, len(declared)]) + declared)  # QoS 0: the introspection, before any data
    first.sendall(_publish(f"{base}/untimed/value", untimed, 7, dup=False))
    first.sendall(_publish(f"{base}/timed/value", timed, 8, dup=False))
    _puback(first, 7)
    _puback(first, 8)
    first.close()  # as if both PUBACKs were lost on the way: the device resends them
    time.sleep(0.5)
    second = _connect(platform, device)
    second.sendall(_publish(f"{base}/untimed/value", untimed, 7, dup=True))
    second.sendall(_publish(f"{base}/timed/value", timed, 8, dup=True))
    second.sendall(_publish(f"{base}/later/value", untimed, 9, dup=False))
    _puback(second, 7)
    _puback(second, 8)
    _puback(second, 9)
    second.close()

    deadline = time.monotonic() + 30
    while len(rows := _rows(platform, device)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # a duplicate would be stored by now too

    assert _rows(platform, device) == [
        ["/later/value", 1.5, 1],
        ["/timed/value", 2.5, 1],
        ["/untimed/value", 1.5, 1],
    ], rows
