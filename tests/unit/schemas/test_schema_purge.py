"""Properties purge lists: Astarte's framing, and refusal to inflate more than 10 MiB."""

from __future__ import annotations

import struct
import zlib

import pytest

from schemas.purge import MAX_INFLATED, decode_purge_list, encode_purge_list


@pytest.mark.parametrize(
    "entries",
    [[], ["org.acme.Settings/kitchen/enabled"], ["a.B/x", "a.B/y/z", "c.D/%20"]],
)
def test_round_trip(entries: list[str]) -> None:
    assert decode_purge_list(encode_purge_list(entries)) == entries


def test_the_wire_form_is_a_big_endian_size_then_zlib() -> None:
    payload = encode_purge_list(["a.B/x", "a.B/y"])

    assert payload[:4] == struct.pack(">I", len(b"a.B/x;a.B/y"))
    assert zlib.decompress(payload[4:]) == b"a.B/x;a.B/y"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x00\x00", "shorter"),
        (struct.pack(">I", 5) + b"not zlib", "not zlib"),
        (struct.pack(">I", 1000) + zlib.compress(b"\0" * (MAX_INFLATED + 100)), "past 10 MiB"),
    ],
)
def test_bad_lists_say_why(payload: bytes, reason: str) -> None:
    result = decode_purge_list(payload)

    assert isinstance(result, str) and reason in result


def test_the_size_prefix_is_not_trusted_as_astarte_does_not() -> None:
    """astarte-device-sdk-python 0.14 writes the size little-endian; Astarte reads past it."""
    text = b"org.acme.Props/sensor_id/integer_endpoint;org.acme.Props/sensor_id/booleanarray_endpoint"
    little_endian = len(text).to_bytes(4, byteorder="little") + zlib.compress(text)

    assert decode_purge_list(little_endian) == text.decode().split(";")
