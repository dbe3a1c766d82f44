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
        (struct.pack(">I", MAX_INFLATED + 1) + zlib.compress(b"x"), "more than"),
        (struct.pack(">I", 5) + b"not zlib", "not zlib"),
        (struct.pack(">I", 10) + zlib.compress(b"abc"), "not the 10"),
        (struct.pack(">I", 1000) + zlib.compress(b"\0" * (MAX_INFLATED + 100)), "past 10 MiB"),
    ],
)
def test_bad_lists_say_why(payload: bytes, reason: str) -> None:
    result = decode_purge_list(payload)

    assert isinstance(result, str) and reason in result
