"""MQTT 3.1.1 framing over a byte buffer (pure): whole packets out of what a socket read gave.

The broker's reader takes everything a read returned and cuts it into packets
here, instead of awaiting the stream once per field of every packet as amqtt
does. A PUBLISH is parsed on the spot; other packets are handed back whole for
amqtt's own classes to decode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

PUBLISH = 3
_MAX_LENGTH_BYTES = 4


class FramingError(ValueError):
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


def frames(buffer: bytes | bytearray, offset: int = 0) -> tuple[list[Frame], int]:
    """The whole packets in ``buffer`` from ``offset``, and where the first incomplete one starts."""
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
        end = cursor + length
        if end > size:
            return found, offset
        found.append(Frame(first >> 4, first & 0x0F, cursor, end))
        offset = end
    return found, offset


def parse_publish(buffer: bytes | bytearray, frame: Frame) -> Publish:
    """The PUBLISH in ``frame`` (its topic UTF-8, its QoS 0 to 2)."""
    qos = (frame.flags >> 1) & 0x03
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
    packet_id = None
    if qos:
        packet_id = int.from_bytes(buffer[topic_end : topic_end + 2], "big")
        topic_end += 2
    payload = bytes(buffer[topic_end:end])
    return Publish(topic, qos, packet_id, payload, bool(frame.flags & 0x08), bool(frame.flags & 0x01))
