"""Malformed, oversized and never-finished packets on ``headwater up``: the connection is closed (§4.8)."""

from __future__ import annotations

import contextlib
import socket
import time

import pytest

from tests.e2e.conftest import Provisioned, Running, provision
from tests.e2e.test_broker_connection import _closed_within, _connect, _publish, _string
from tests.helpers import temperature_interface


@pytest.fixture(scope="module")
def device(platform: Running) -> Provisioned:
    return provision(platform, temperature_interface())


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(b"\x40\x01\x00", id="puback-length-1"),
        pytest.param(b"\x40\x00", id="puback-length-0"),
        pytest.param(b"\x70\x03\x00\x01\x00", id="pubcomp-length-3"),
        pytest.param(b"\x60\x02\x00\x01", id="pubrel-flags-0"),
        pytest.param(b"\xc0\x01\x00", id="pingreq-length-1"),
        pytest.param(b"\xe0\x6c", id="disconnect-declaring-108-bytes"),
        pytest.param(b"\x82\x00", id="subscribe-empty"),
        pytest.param(b"\x82\x02\x00\x01", id="subscribe-no-filter"),
        pytest.param(b"\x82\x06\x00\x01\x00\x01a\x03", id="subscribe-qos-3"),
        pytest.param(b"\x80\x06\x00\x01\x00\x01a\x00", id="subscribe-flags-0"),
        pytest.param(b"\xa2\x02\x00\x01", id="unsubscribe-no-filter"),
        pytest.param(b"\x20\x02\x00\x00", id="connack-from-a-client"),
        pytest.param(b"\xd0\x00", id="pingresp-from-a-client"),
        pytest.param(b"\x30\x06\x00\x03a/#x", id="publish-wildcard-topic"),
        pytest.param(b"\x32\x06\x00\x01a\x00\x00x", id="publish-packet-id-0"),
    ],
)
def test_a_malformed_packet_closes_the_connection(
    platform: Running, device: Provisioned, packet: bytes
) -> None:
    sock = _connect(platform, device, keep_alive=60)

    sock.sendall(packet)

    assert _closed_within(sock, 5) is not None


def test_a_socket_without_a_whole_connect_is_closed_after_the_connect_timeout(platform: Running) -> None:
    silent = socket.create_connection(("127.0.0.1", platform.mqtt_port), timeout=10)
    partial = socket.create_connection(("127.0.0.1", platform.mqtt_port), timeout=10)
    partial.sendall(b"\x10\x20" + _string("MQTT"))  # a CONNECT of 32 bytes, 6 of them sent
    started = time.monotonic()

    closed = [_closed_within(silent, 20), _closed_within(partial, 20)]

    assert all(seconds is not None for seconds in closed)
    assert 5 < time.monotonic() - started < 20  # mqtt.connect_timeout_s, 10 s by default


def test_a_packet_declared_over_the_size_limit_is_refused_before_its_body(
    platform: Running, device: Provisioned
) -> None:
    sock = _connect(platform, device, keep_alive=60)

    # A QoS 1 PUBLISH declaring 256 MB (the most MQTT can declare), the start of its body sent.
    sock.sendall(b"\x32\xff\xff\xff\x7f" + _string(f"{device.base}/org.acme.Temperature/s/value"))

    assert _closed_within(sock, 3) is not None


def test_a_publish_up_to_the_size_limit_still_gets_its_puback(platform: Running, device: Provisioned) -> None:
    sock = _connect(platform, device, keep_alive=60)
    topic = f"{device.base}/org.acme.Temperature/s1/value"
    padding = " " * (900 * 1024)  # JSON whitespace: under the 1 MiB default, over amqtt's 64 KiB reads

    sock.sendall(_publish_long(topic, f'{{"v": 2.5,{padding}"t": "2026-01-01T00:00:00Z"}}'.encode(), 3))

    sock.settimeout(10)
    assert sock.recv(4) == b"\x40\x02\x00\x03"


def _publish_long(topic: str, payload: bytes, packet_id: int) -> bytes:
    body = _string(topic) + packet_id.to_bytes(2, "big") + payload
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return b"\x32" + bytes(encoded) + body


def test_a_device_keeps_its_pubacks_while_another_connection_floods_refused_publishes(
    platform: Running, device: Provisioned
) -> None:
    flooder = provision(platform, temperature_interface())
    flood = _connect(platform, flooder, keep_alive=60)
    healthy = _connect(platform, device, keep_alive=60)
    bad_topic = f"{flooder.base}/org.acme.Temperature/bad/value"
    burst = b"".join(_publish(bad_topic, b'{"v": "not a double"}', i % 65535 + 1) for i in range(2000))
    flood.setblocking(False)

    worst, packet_id, pending, deadline = 0.0, 0, b"", time.monotonic() + 15
    while time.monotonic() < deadline:
        # Every refused PUBLISH goes to the dead-letter topic: 2,000 more whenever the broker has
        # read the last ones, while the other device waits for each of its PUBACKs.
        pending = pending or burst
        with contextlib.suppress(BlockingIOError, ConnectionError):
            pending = pending[flood.send(pending) :]
        with contextlib.suppress(BlockingIOError, ConnectionError):
            flood.recv(1 << 20)
        packet_id += 1
        sent = time.monotonic()
        healthy.sendall(_publish(f"{device.base}/org.acme.Temperature/s1/value", _READING, packet_id))
        healthy.settimeout(10)
        assert healthy.recv(4) == b"\x40\x02" + packet_id.to_bytes(2, "big")
        worst = max(worst, time.monotonic() - sent)

    assert worst < 5.0, f"a PUBACK took {worst:.1f} s"


_READING = b'{"v": 1.5, "t": "2026-01-01T00:00:00Z"}'
