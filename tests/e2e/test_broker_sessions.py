"""Sessions, client ids and wills on ``headwater up``, probed as an attacker would: raw MQTT packets."""

from __future__ import annotations

import json
import queue
import socket
import time
from typing import Any

import bson
import pytest

from schemas.names import random_device_id
from tests.e2e.conftest import Provisioned, Running, introspection, mqtt_connect, provision
from tests.helpers import temperature_interface

ORDERS = {
    "interface_name": "org.acme.Orders",
    "version_major": 0,
    "version_minor": 1,
    "type": "datastream",
    "ownership": "server",
    "mappings": [{"endpoint": "/kept", "type": "double", "reliability": "guaranteed", "retention": "stored"}],
}
TEMPERATURE = "org.acme.Temperature"
NOT_AUTHORIZED = 5


def _string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes) -> bytes:
    length, encoded = len(body), bytearray()
    while True:
        digit, length = length % 128, length // 128
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes([first]) + bytes(encoded) + body


def _read(sock: socket.socket, timeout: float) -> tuple[int, bytes] | None:
    """The next packet (first byte, body); None if none came in time; ConnectionError once closed."""
    sock.settimeout(timeout)
    try:
        first = sock.recv(1)
    except TimeoutError:
        return None
    if not first:
        raise ConnectionError("closed by the broker")
    sock.settimeout(5)
    length, shift = 0, 0
    while True:
        digit = sock.recv(1)[0]
        length += (digit & 0x7F) << shift
        shift += 7
        if not digit & 0x80:
            break
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            raise ConnectionError("closed by the broker")
        body += chunk
    return first[0], body


class Raw:
    """One raw MQTT 3.1.1 connection: the CONNACK it got and the packets that follow."""

    def __init__(
        self,
        platform: Running,
        client_id: str,
        username: str,
        password: str,
        *,
        clean: bool = True,
        will: tuple[str, bytes, int, bool] | None = None,
    ) -> None:
        flags = 0xC0 | (0x02 if clean else 0)
        payload = _string(client_id)
        if will is not None:
            topic, message, qos, retain = will
            flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
            payload += _string(topic) + _string(message)
        payload += _string(username) + _string(password)
        body = _string("MQTT") + bytes([4, flags]) + (30).to_bytes(2, "big") + payload
        self.sock = socket.create_connection(("127.0.0.1", platform.mqtt_port), timeout=10)
        self.sock.sendall(_packet(0x10, body))
        connack = _read(self.sock, 10)
        assert connack is not None and connack[0] == 0x20, connack
        self.session_present, self.return_code = connack[1][0] & 1, connack[1][1]

    def subscribe(self, topic_filter: str, packet_id: int = 1) -> int:
        self.sock.sendall(_packet(0x82, packet_id.to_bytes(2, "big") + _string(topic_filter) + b"\x01"))
        suback = _read(self.sock, 10)
        assert suback is not None and suback[0] == 0x90, suback
        return suback[1][2]

    def publishes(self, timeout: float) -> list[tuple[int, str, bytes]]:
        """PUBLISHes (flags, topic, payload) received within ``timeout`` s, each acknowledged."""
        found, deadline = [], time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            packet = _read(self.sock, left)
            if packet is None:
                break
            first, body = packet
            if first >> 4 != 3:
                continue
            size = int.from_bytes(body[:2], "big")
            topic, rest = body[2 : 2 + size].decode(), body[2 + size :]
            if first & 0x06:
                self.sock.sendall(b"\x40\x02" + rest[:2])
                rest = rest[2:]
            found.append((first & 0x0F, topic, rest))
        return found

    def closed_within(self, seconds: float) -> bool:
        """Whether the broker closes the connection within ``seconds``."""
        deadline = time.monotonic() + seconds
        try:
            while (left := deadline - time.monotonic()) > 0:
                _read(self.sock, left)
        except (ConnectionError, OSError):
            return True
        return False

    def declare(self, base: str, introspection: bytes) -> None:
        """Send the device's introspection (a QoS 0 PUBLISH on its base topic)."""
        self.sock.sendall(_packet(0x30, _string(base) + introspection))

    def disconnect(self) -> None:
        self.sock.sendall(b"\xe0\x00")
        self.sock.close()

    def drop(self) -> None:
        """Close the socket without a DISCONNECT, as a device losing its network would."""
        self.sock.close()


def _second_device(platform: Running, first: Provisioned) -> Provisioned:
    with platform.client() as api:
        device_id = random_device_id()
        registered = api.post(f"/pairing/v1/{first.realm}/agent/devices", json={"data": {"hw_id": device_id}})
        assert registered.status_code == 201, registered.text
    return Provisioned(first.realm, device_id, registered.json()["data"]["credentials_secret"])


def _order(platform: Running, device: Provisioned, value: float) -> None:
    with platform.client() as api:
        path = f"/appengine/v1/{device.realm}/devices/{device.device_id}/interfaces/org.acme.Orders/kept"
        answer = api.post(path, json={"data": value})
        assert answer.status_code == 200, answer.text


def _listening(platform: Running, device: Provisioned) -> tuple[Any, queue.Queue[Any], Any]:
    """A paho device subscribed to its orders: the client, what it receives, an event set on disconnect."""
    client, reason, disconnected = mqtt_connect(platform, device.base, device.secret)
    assert not reason.is_failure
    received: queue.Queue[Any] = queue.Queue()
    client.on_message = lambda _c, _u, message: received.put(message)
    client.subscribe(f"{device.base}/org.acme.Orders/#", qos=1)
    time.sleep(0.5)
    return client, received, disconnected


def _reading(value: float) -> bytes:
    return json.dumps({"v": value, "t": "2026-01-01T00:00:00Z"}).encode()


@pytest.mark.parametrize(
    ("target", "interface", "payload", "retain"),
    [
        ("victim", "org.acme.Orders/kept", bson.encode({"v": 66.0}), False),
        ("victim", "org.acme.Orders/kept", bson.encode({"v": 66.0}), True),
        ("attacker", "org.acme.Orders/kept", bson.encode({"v": 66.0}), False),
        ("victim", f"{TEMPERATURE}/s1/value", _reading(1.0), False),
        ("attacker", f"{TEMPERATURE}/s1/value", b'{"v": "not a double"}', False),
        ("attacker", "control/emptyCache", b"1", False),
    ],
    ids=[
        "other-device-command",
        "other-device-command-retained",
        "own-server-owned",
        "other-device-reading",
        "invalid-payload",
        "control-topic",
    ],
)
def test_a_will_that_a_publish_could_not_make_is_refused_at_connect(
    platform: Running, target: str, interface: str, payload: bytes, retain: bool
) -> None:
    victim = provision(platform, ORDERS, temperature_interface())
    attacker = _second_device(platform, victim)
    client, received, _ = _listening(platform, victim)
    owner = victim if target == "victim" else attacker

    forged = Raw(
        platform,
        attacker.base,
        attacker.base,
        attacker.secret,
        will=(f"{owner.base}/{interface}", payload, 1, retain),
    )
    forged.drop()
    time.sleep(1.0)
    client.subscribe(f"{victim.base}/org.acme.Orders/+", qos=1)  # where a retained will would show
    time.sleep(1.0)
    client.disconnect()
    client.loop_stop()

    forged_received = [(m.topic, m.retain) for m in list(received.queue)]
    assert (forged.return_code, forged_received) == (NOT_AUTHORIZED, [])


def test_a_will_is_stored_like_a_reading_when_the_device_drops_and_forgotten_on_disconnect(
    platform: Running,
) -> None:
    device = provision(platform, temperature_interface())
    kept = f"{device.base}/{TEMPERATURE}/w1/value"
    discarded = f"{device.base}/{TEMPERATURE}/w2/value"

    polite = Raw(platform, device.base, device.base, device.secret, will=(discarded, _reading(2.0), 1, False))
    polite.disconnect()
    time.sleep(0.5)
    dropping = Raw(platform, device.base, device.base, device.secret, will=(kept, _reading(21.5), 1, True))
    dropping.declare(device.base, introspection(temperature_interface()))  # a will is judged as a reading
    time.sleep(0.5)
    dropping.drop()

    with platform.client() as api:
        data = f"/appengine/v1/{device.realm}/devices/{device.device_id}/interfaces/{TEMPERATURE}"
        deadline = time.monotonic() + 15
        while not (stored := api.get(f"{data}/w1/value").json()["data"]):
            assert time.monotonic() < deadline, "the will was never stored"
            time.sleep(0.2)
        time.sleep(1.0)
        never = api.get(f"{data}/w2/value").json()["data"]

    assert polite.return_code == 0 and dropping.return_code == 0
    assert [sample["value"] for sample in stored] == [21.5]
    assert never == []


def test_a_device_may_not_use_another_devices_client_id(platform: Running) -> None:
    victim = provision(platform, ORDERS)
    attacker = _second_device(platform, victim)
    owner = Raw(platform, victim.base, victim.base, victim.secret, clean=False)
    assert owner.subscribe(f"{victim.base}/org.acme.Orders/#") == 1
    owner.disconnect()
    time.sleep(0.5)
    _order(platform, victim, 7.0)  # queued for the offline persistent session
    time.sleep(1.0)

    thief = Raw(platform, victim.base, attacker.base, attacker.secret, clean=False)
    stolen = [] if thief.return_code else thief.publishes(2.0)
    thief.drop()
    back = Raw(platform, victim.base, victim.base, victim.secret, clean=False)
    delivered = back.publishes(3.0)
    back.disconnect()

    assert (thief.return_code, stolen) == (NOT_AUTHORIZED, [])
    assert [(topic, bson.decode(payload)) for _, topic, payload in delivered] == [
        (f"{victim.base}/org.acme.Orders/kept", {"v": 7.0})
    ]


@pytest.mark.parametrize("clean", [False, True])
def test_a_wrong_secret_with_a_connected_devices_client_id_changes_nothing(
    platform: Running, clean: bool
) -> None:
    victim = provision(platform, ORDERS)
    client, received, disconnected = _listening(platform, victim)

    intruder = Raw(platform, victim.base, victim.base, "not the secret", clean=clean)
    shut = intruder.closed_within(2.0)
    _order(platform, victim, 3.0)
    try:
        message = received.get(timeout=5)
    except queue.Empty:
        message = None
    dropped = disconnected.is_set()
    client.disconnect()
    client.loop_stop()

    assert (intruder.return_code, shut) == (NOT_AUTHORIZED, True)
    assert (dropped, message and bson.decode(message.payload)) == (False, {"v": 3.0})


@pytest.mark.parametrize(
    ("client_id", "first_clean", "clean"),
    [("base", False, False), ("base", False, True), ("", True, True)],
    ids=["resumed", "clean", "no-client-id"],
)
def test_a_new_connection_of_the_same_device_takes_over_and_gets_the_downlink(
    platform: Running, client_id: str, first_clean: bool, clean: bool
) -> None:
    device = provision(platform, ORDERS)
    named = device.base if client_id == "base" else client_id  # Astarte's Python SDK sends none
    first = Raw(platform, named, device.base, device.secret, clean=first_clean)
    assert first.subscribe(f"{device.base}/org.acme.Orders/#") == 1

    second = Raw(platform, named, device.base, device.secret, clean=clean)
    first_closed = first.closed_within(5.0)
    if clean:
        assert second.subscribe(f"{device.base}/org.acme.Orders/#") == 1
    _order(platform, device, 4.0)
    delivered = second.publishes(3.0)
    second.disconnect()

    assert second.return_code == 0 and second.session_present == (not clean)
    assert first_closed
    assert [bson.decode(payload) for _, _, payload in delivered] == [{"v": 4.0}]


def test_downlink_queued_for_an_offline_session_arrives_without_retain(platform: Running) -> None:
    device = provision(platform, ORDERS)
    before = Raw(platform, device.base, device.base, device.secret, clean=False)
    assert before.subscribe(f"{device.base}/org.acme.Orders/#") == 1
    before.disconnect()
    time.sleep(0.5)
    _order(platform, device, 5.0)
    time.sleep(1.0)

    after = Raw(platform, device.base, device.base, device.secret, clean=False)
    delivered = after.publishes(3.0)
    after.disconnect()

    assert [(flags & 0x01, bson.decode(payload)) for flags, _, payload in delivered] == [(0, {"v": 5.0})]
