"""Cutting socket reads into MQTT packets, and parsing a PUBLISH in place."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.framing import PUBLISH, FramingError, frames, parse_publish


def remaining(length: int) -> bytes:
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def publish(topic: str, payload: bytes, qos: int = 1, packet_id: int = 7, flags: int = 0) -> bytes:
    name = topic.encode()
    body = len(name).to_bytes(2, "big") + name + (packet_id.to_bytes(2, "big") if qos else b"") + payload
    return bytes([0x30 | qos << 1 | flags]) + remaining(len(body)) + body


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
        (bytes([0x36]) + remaining(3) + b"\x00\x01t", "QoS 3"),
        (bytes([0x32]) + remaining(3) + b"\x00\x01t", "packet id"),
        (bytes([0x30]) + remaining(4) + b"\x00\x02\xff\xfe", "UTF-8"),
    ],
)
def test_malformed_packets_are_framing_errors(data: bytes, reason: str) -> None:
    with pytest.raises(FramingError, match=reason):
        found, _ = frames(data)
        parse_publish(data, found[0])


@given(
    st.lists(st.tuples(st.text(min_size=1, max_size=40), st.binary(max_size=300), st.integers(0, 1))),
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
