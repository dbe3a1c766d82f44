"""The broker's reader on ``headwater up``, over a raw socket: keep-alive and malformed packets."""

from __future__ import annotations

import socket
import time

from tests.e2e.conftest import Provisioned, Running, provision
from tests.helpers import temperature_interface


def _string(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def _connect(platform: Running, device: Provisioned, keep_alive: int) -> socket.socket:
    """A raw MQTT 3.1.1 connection, CONNACKed with return code 0."""
    body = _string("MQTT") + bytes([4, 0xC2]) + keep_alive.to_bytes(2, "big")
    body += _string(device.base) + _string(device.base) + _string(device.secret)
    sock = socket.create_connection(("127.0.0.1", platform.mqtt_port), timeout=10)
    sock.sendall(bytes([0x10, len(body)]) + body)
    assert sock.recv(4) == b"\x20\x02\x00\x00"
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the broker closed the connection, None if it stayed open that long."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(1024):
            pass
    except TimeoutError:
        return None
    except ConnectionError:
        pass
    return time.monotonic() - started


def _publish(topic: str, payload: bytes, packet_id: int) -> bytes:
    body = _string(topic) + packet_id.to_bytes(2, "big") + payload
    return bytes([0x32, len(body)]) + body


def test_a_silent_connection_is_closed_after_one_and_a_half_keep_alives(platform: Running) -> None:
    first, second = (provision(platform, temperature_interface()) for _ in range(2))
    quiet = _connect(platform, first, keep_alive=1)
    pinging = _connect(platform, second, keep_alive=1)
    connected = time.monotonic()

    closed_at = None
    while time.monotonic() - connected < 4:
        pinging.sendall(b"\xc0\x00")
        assert pinging.recv(2) == b"\xd0\x00"
        if closed_at is None and _closed_within(quiet, 0.5) is not None:
            closed_at = time.monotonic() - connected

    assert closed_at is not None and 1.0 < closed_at < 3.0
    assert _closed_within(pinging, 0.2) is None


def test_a_malformed_packet_closes_only_its_connection(platform: Running) -> None:
    device = provision(platform, temperature_interface())
    broken = _connect(platform, device, keep_alive=30)
    other = provision(platform, temperature_interface())
    healthy = _connect(platform, other, keep_alive=30)

    broken.sendall(b"\x00\x00")  # packet type 0 is reserved
    topic = f"{other.base}/org.acme.Temperature/s1/value"
    healthy.sendall(_publish(topic, b'{"v": 1.5, "t": "2026-01-01T00:00:00Z"}', 9))

    assert _closed_within(broken, 5) is not None
    assert healthy.recv(4) == b"\x40\x02\x00\x09"
