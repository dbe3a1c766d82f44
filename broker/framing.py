"""MQTT 3.1.1 framing over a byte buffer (pure): whole packets out of what a socket read gave.

The broker's reader takes everything a read returned and cuts it into packets
here, instead of awaiting the stream once per field of every packet as amqtt
does. A PUBLISH is parsed on the spot; any other packet a client may send is
checked against the rules of its type (flags, remaining length, topic filters)
before amqtt's own classes decode it. Whatever breaks a rule raises
:class:`FramingError`, and the connection is closed (MQTT 3.1.1 §4.8).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from schemas.errors import HeadwaterError

CONNECT = 1
PUBLISH = 3
PUBACK, PUBREC, PUBREL, PUBCOMP = 4, 5, 6, 7
SUBSCRIBE, UNSUBSCRIBE = 8, 10
PINGREQ, DISCONNECT = 12, 14
MAX_REMAINING_LENGTH = 268_435_455  # four bytes of remaining length (§2.2.3)
_MAX_LENGTH_BYTES = 4

_NAMES = {
    CONNECT: "CONNECT",
    PUBACK: "PUBACK",
    PUBREC: "PUBREC",
    PUBREL: "PUBREL",
    PUBCOMP: "PUBCOMP",
    SUBSCRIBE: "SUBSCRIBE",
    UNSUBSCRIBE: "UNSUBSCRIBE",
    PINGREQ: "PINGREQ",
    DISCONNECT: "DISCONNECT",
}
# The flags and remaining length of the fixed-size packets a client sends (§2.2.2, §3.4-§3.14).
_FIXED = {
    PUBACK: (0, 2),
    PUBREC: (0, 2),
    PUBREL: (2, 2),
    PUBCOMP: (0, 2),
    PINGREQ: (0, 0),
    DISCONNECT: (0, 0),
}


class FramingError(HeadwaterError, ValueError):
    """Bytes that cannot be MQTT: the connection must be closed."""


class Frame(NamedTuple):
    """One packet of the buffer: its type, flags and the span of its body (after the fixed header)."""

    packet_type: int
    flags: int
    start: int
    end: int

    @property
    def remaining_length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Publish:
    """A parsed PUBLISH."""

    topic: str
    qos: int
    packet_id: int | None
    payload: bytes
    dup: bool
    retain: bool


def frames(
    buffer: bytes | bytearray, offset: int = 0, max_length: int = MAX_REMAINING_LENGTH
) -> tuple[list[Frame], int]:
    """The whole packets in ``buffer`` from ``offset``, and where the first incomplete one starts.

    A packet whose remaining length is over ``max_length`` is refused as soon as its fixed
    header is in, before its body is buffered.
    """
    found: list[Frame] = []
    size = len(buffer)
    while offset + 2 <= size:
        first = buffer[offset]
        length = 0
        multiplier = 1
        cursor = offset + 1
        while True:
            if cursor >= size:
                return found, offset
            byte = buffer[cursor]
            cursor += 1
            length += (byte & 0x7F) * multiplier
            if not byte & 0x80:
                break
            multiplier *= 128
            if cursor - offset - 1 >= _MAX_LENGTH_BYTES:
                raise FramingError("the remaining length takes more than four bytes")
        if length > max_length:
            raise FramingError(f"a packet of {length} bytes, over the limit of {max_length}")
        if first >> 4 != PUBLISH:
            check_header(first >> 4, first & 0x0F, length)
        end = cursor + length
        if end > size:
            return found, offset
        found.append(Frame(first >> 4, first & 0x0F, cursor, end))
        offset = end
    return found, offset


def parse_publish(buffer: bytes | bytearray, frame: Frame) -> Publish:
    """The PUBLISH in ``frame`` (its topic UTF-8 without wildcards, its QoS 0 to 2)."""
    flags = frame.flags
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise FramingError("a PUBLISH with QoS 3")
    start, end = frame.start, frame.end
    if end - start < 2:
        raise FramingError("a PUBLISH too short for its topic length")
    topic_end = start + 2 + int.from_bytes(buffer[start : start + 2], "big")
    if topic_end > end or (qos and topic_end + 2 > end):
        raise FramingError("a PUBLISH shorter than its topic and packet id")
    try:
        topic = bytes(buffer[start + 2 : topic_end]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FramingError("a PUBLISH topic that is not UTF-8") from exc
    if not topic or "+" in topic or "#" in topic or "\x00" in topic:
        raise FramingError("a PUBLISH topic that is empty or holds a wildcard or U+0000")  # §3.3.2.1
    packet_id = None
    if qos:
        packet_id = int.from_bytes(buffer[topic_end : topic_end + 2], "big")
        if not packet_id:
            raise FramingError("a PUBLISH with packet id 0")  # §2.3.1
        topic_end += 2
    elif flags & 0x08:
        raise FramingError("a QoS 0 PUBLISH with DUP set")  # §3.3.1.1
    payload = bytes(buffer[topic_end:end])
    return Publish(topic, qos, packet_id, payload, bool(flags & 0x08), bool(flags & 0x01))


def check_header(kind: int, flags: int, length: int) -> None:
    """Raise :class:`FramingError` unless a client may send this fixed header after CONNECT (not PUBLISH).

    Called as soon as the fixed header is in, so a packet declaring a length its type
    cannot have is refused before its body arrives. A server never receives CONNACK,
    SUBACK, UNSUBACK or PINGRESP, nor a second CONNECT (§3.1.0).
    """
    name = _NAMES.get(kind)
    if name is None or kind == CONNECT:
        raise FramingError(
            "a second CONNECT" if kind == CONNECT else f"packet type {kind}, not one a client sends"
        )
    fixed = _FIXED.get(kind)
    if fixed is None:  # SUBSCRIBE and UNSUBSCRIBE: flags 0010, a packet id and at least one filter
        expected_flags, shortest = 2, 5 if kind == UNSUBSCRIBE else 6
        if length < shortest:
            raise FramingError(f"a {name} of remaining length {length}: without any topic filter")
    else:
        expected_flags, expected = fixed
        if length != expected:
            raise FramingError(f"a {name} of remaining length {length}, not {expected}")
    if flags != expected_flags:
        raise FramingError(f"a {name} with flags {flags:#x}, not {expected_flags:#x}")


def check_packet(buffer: bytes | bytearray, frame: Frame) -> None:
    """Raise :class:`FramingError` unless the body of ``frame`` (not a PUBLISH) is well formed.

    Its fixed header already passed :func:`check_header` in :func:`frames`.
    """
    kind = frame.packet_type
    start, end = frame.start, frame.end
    name = _NAMES[kind]
    if end > start and not (buffer[start] or buffer[start + 1]):
        raise FramingError(f"a {name} with packet id 0")  # §2.3.1
    if kind not in (SUBSCRIBE, UNSUBSCRIBE):
        return
    # One or more topic filters after the packet id (§3.8.3, §3.10.3).
    cursor, count = start + 2, 0
    while cursor < end:
        if cursor + 2 > end:
            raise FramingError(f"a {name} topic filter cut short")
        filter_end = cursor + 2 + int.from_bytes(buffer[cursor : cursor + 2], "big")
        if filter_end == cursor + 2 or filter_end > end:
            raise FramingError(f"a {name} topic filter that is empty or longer than the packet")
        try:
            text = bytes(buffer[cursor + 2 : filter_end]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FramingError(f"a {name} topic filter that is not UTF-8") from exc
        if "\x00" in text:
            raise FramingError(f"a {name} topic filter holding U+0000")
        cursor = filter_end
        if kind == SUBSCRIBE:
            if cursor >= end or buffer[cursor] > 2:
                raise FramingError("a SUBSCRIBE topic filter without a valid requested QoS")  # §3.8.3.1
            cursor += 1
        count += 1
    if not count:
        raise FramingError(f"a {name} without any topic filter")  # §3.8.3-3, §3.10.3-2
