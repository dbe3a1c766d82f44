"""Cutting socket reads into MQTT packets, and parsing a PUBLISH in place."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest
from amqtt.adapters import BufferReader
from amqtt.mqtt import packet_dict
from amqtt.mqtt.packet import MQTTFixedHeader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.framing import PUBLISH, FramingError, check_packet, frames, parse_publish
from tests.helpers import remaining_length


def publish(topic: str, payload: bytes, qos: int = 1, packet_id: int = 7, flags: int = 0) -> bytes:
    name = topic.encode()
    body = len(name).to_bytes(2, "big") + name + (packet_id.to_bytes(2, "big") if qos else b"") + payload
    return bytes([0x30 | qos << 1 | flags]) + remaining_length(len(body)) + body


def test_whole_packets_are_cut_and_the_incomplete_tail_is_left() -> None:
    first = publish("acme/dev/org.acme.T/a", b"\x01" * 200)
    ping = b"\xc0\x00"
    second = publish("acme/dev/org.acme.T/b", b"x", qos=0)
    data = first + ping + second[:5]

    found, consumed = frames(data)

    assert [f.packet_type for f in found] == [PUBLISH, 12]
    assert consumed == len(first) + len(ping)
    assert found[1].remaining_length == 0
    assert frames(data + second[5:], consumed)[1] == len(data + second[5:])


def test_a_publish_is_parsed_with_its_qos_packet_id_and_flags() -> None:
    data = publish("acme/dev/org.acme.T/a", b"payload", qos=1, packet_id=513, flags=0x08 | 0x01)

    parsed = parse_publish(data, frames(data)[0][0])

    assert (parsed.topic, parsed.qos, parsed.packet_id, parsed.payload) == (
        "acme/dev/org.acme.T/a",
        1,
        513,
        b"payload",
    )
    assert parsed.dup and parsed.retain


def test_qos0_has_no_packet_id() -> None:
    data = publish("t", b"\x00\x01", qos=0)

    parsed = parse_publish(data, frames(data)[0][0])

    assert parsed.packet_id is None and parsed.payload == b"\x00\x01"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x30\xff\xff\xff\xff\x01", "four bytes"),
        (bytes([0x36]) + remaining_length(3) + b"\x00\x01t", "QoS 3"),
        (bytes([0x32]) + remaining_length(3) + b"\x00\x01t", "packet id"),
        (bytes([0x30]) + remaining_length(4) + b"\x00\x02\xff\xfe", "UTF-8"),
    ],
)
def test_malformed_packets_are_framing_errors(data: bytes, reason: str) -> None:
    with pytest.raises(FramingError, match=reason):
        found, _ = frames(data)
        parse_publish(data, found[0])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x40\x01\x00", "PUBACK of remaining length 1, not 2"),
        (b"\x40\x00", "PUBACK of remaining length 0, not 2"),
        (b"\x50\x03\x00\x01\x00", "PUBREC of remaining length 3"),
        (b"\x60\x02\x00\x01", "PUBREL with flags 0x0, not 0x2"),
        (b"\x70\x01", "PUBCOMP of remaining length 1"),
        (b"\xc0\x01\x00", "PINGREQ of remaining length 1, not 0"),
        (b"\xe0\x6c", "DISCONNECT of remaining length 108"),  # refused before its body comes
        (b"\xe1\x00", "DISCONNECT with flags 0x1"),
        (b"\x82\x00", "SUBSCRIBE of remaining length 0: without any topic filter"),
        (b"\x82\x02\x00\x01", "SUBSCRIBE of remaining length 2"),
        (b"\x80\x06\x00\x01\x00\x01a\x00", "SUBSCRIBE with flags 0x0"),
        (b"\xa2\x02\x00\x01", "UNSUBSCRIBE of remaining length 2"),
        (b"\x20\x02\x00\x00", "packet type 2, not one a client sends"),
        (b"\x90\x03\x00\x01\x00", "packet type 9"),
        (b"\xb0\x02\x00\x01", "packet type 11"),
        (b"\xd0\x00", "packet type 13"),
        (b"\x00\x00", "packet type 0"),
        (b"\xf0\x00", "packet type 15"),
        (b"\x10\x02\x00\x04", "a second CONNECT"),
    ],
)
def test_a_fixed_header_its_type_cannot_have_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(FramingError, match=reason):
        frames(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x40\x02\x00\x00", "packet id 0"),
        (b"\x82\x06\x00\x00\x00\x01a\x00", "packet id 0"),
        (b"\x82\x06\x00\x01\x00\x01a\x03", "requested QoS"),
        (b"\x82\x06\x00\x01\x00\x03a\x00", "longer than the packet"),
        (b"\x82\x07\x00\x01\x00\x00\x00\x00\x00", "empty"),
        (b"\x82\x07\x00\x01\x00\x01a\x00\x00", "cut short"),
        (b"\x82\x06\x00\x01\x00\x01\xff\x00", "not UTF-8"),
        (b"\xa2\x05\x00\x01\x00\x01\x00", "U\\+0000"),
    ],
)
def test_a_body_breaking_its_type_rules_is_refused(data: bytes, reason: str) -> None:
    found, _ = frames(data)
    with pytest.raises(FramingError, match=reason):
        check_packet(data, found[0])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (publish("a/+/b", b"x"), "wildcard"),
        (publish("", b"x"), "empty"),
        (publish("a/b", b"x", packet_id=0), "packet id 0"),
        (publish("a/b", b"x", qos=0, flags=0x08), "DUP"),
    ],
)
def test_a_publish_breaking_the_topic_and_id_rules_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(FramingError, match=reason):
        parse_publish(data, frames(data)[0][0])


def test_a_packet_over_the_limit_is_refused_from_its_fixed_header() -> None:
    header = bytes([0x32]) + remaining_length(256 * 1024 * 1024 - 1)

    with pytest.raises(FramingError, match="over the limit of 1048576"):
        frames(header, 0, 1 << 20)
    packet = publish("t", b"x" * 100)  # a remaining length of 105
    assert frames(packet, 0, 105)[1] == len(packet)
    with pytest.raises(FramingError, match="a packet of 105 bytes"):
        frames(packet, 0, 104)


_topics = st.text(
    st.characters(exclude_characters="+#\x00", exclude_categories=["Cs"]), min_size=1, max_size=40
)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    yield running
    running.close()


def _read(loop: asyncio.AbstractEventLoop, data: bytes) -> None:
    """What the broker's reader does with bytes after CONNECT, up to amqtt's decoding."""
    found, _ = frames(data, 0, 1 << 20)
    for frame in found:
        if frame.packet_type == PUBLISH:
            parse_publish(data, frame)
            continue
        check_packet(data, frame)
        fixed = MQTTFixedHeader(frame.packet_type, frame.flags, frame.remaining_length)
        body = BufferReader(data[frame.start : frame.end])
        loop.run_until_complete(packet_dict[frame.packet_type].from_stream(body, fixed_header=fixed))


_packets = st.builds(
    lambda first, body, declared: (
        bytes([first]) + remaining_length(len(body) if declared is None else declared) + body
    ),
    st.integers(0, 255),
    st.binary(max_size=40),
    st.one_of(st.none(), st.integers(0, 300)),
)
_streams = st.one_of(st.binary(max_size=80), st.lists(_packets, max_size=4).map(b"".join))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_streams)
def test_any_bytes_either_parse_or_raise_a_framing_error(
    loop: asyncio.AbstractEventLoop, data: bytes
) -> None:
    with contextlib.suppress(FramingError):  # anything else fails the test
        _read(loop, data)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from([0x40, 0x50, 0x62, 0x70, 0x82, 0xA2, 0xC0, 0xE0]),
    st.integers(1, 65535),
    st.lists(st.tuples(st.text(min_size=1, max_size=20), st.integers(0, 2)), min_size=1, max_size=4),
)
def test_every_packet_that_passes_the_checks_is_decoded_by_amqtt(
    loop: asyncio.AbstractEventLoop, first: int, packet_id: int, filters: list[tuple[str, int]]
) -> None:
    body = b""
    if first in (0x82, 0xA2):
        body = packet_id.to_bytes(2, "big")
        for text, qos in filters:
            name = text.replace("\x00", "a").encode()
            body += len(name).to_bytes(2, "big") + name + (bytes([qos]) if first == 0x82 else b"")
    elif first not in (0xC0, 0xE0):
        body = packet_id.to_bytes(2, "big")

    _read(loop, bytes([first]) + remaining_length(len(body)) + body)


@given(
    st.lists(st.tuples(_topics, st.binary(max_size=300), st.integers(0, 1))),
    st.integers(1, 64),
)
def test_any_split_of_a_stream_gives_back_the_same_publishes(
    messages: list[tuple[str, bytes, int]], step: int
) -> None:
    stream = b"".join(publish(topic, payload, qos) for topic, payload, qos in messages)
    buffer, seen = bytearray(), []
    for start in range(0, len(stream), step):
        buffer += stream[start : start + step]
        found, consumed = frames(buffer)
        seen += [(p.topic, p.payload, p.qos) for p in (parse_publish(buffer, f) for f in found)]
        del buffer[:consumed]

    assert seen == messages and not buffer
