"""Astarte's properties purge lists: a 4-byte big-endian size, then zlib of ``iface/path;...`` (pure)."""

from __future__ import annotations

import struct
import zlib

MAX_INFLATED = 10 * 1024 * 1024

# The device event a broker emits for a valid producer purge list; metadata "kept" holds the entries.
PRODUCER_PURGE = "producer_properties_purge"


def encode_purge_list(paths: list[str]) -> bytes:
    """The payload listing ``interface/path`` entries (paths without their leading slash join with /)."""
    text = ";".join(paths).encode()
    return struct.pack(">I", len(text)) + zlib.compress(text)


def decode_purge_list(payload: bytes) -> list[str] | str:
    """The entries of a purge list, or why it cannot be read (never inflating past 10 MiB)."""
    if len(payload) < 4:
        return "purge list shorter than its size prefix"
    # The size prefix is not trusted, as Astarte does not: the Python SDK (0.14) writes it
    # little-endian. The 10 MiB cap is enforced while inflating.
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(payload[4:], MAX_INFLATED + 1)
    except zlib.error as exc:
        return f"purge list is not zlib data: {exc}"
    if len(text) > MAX_INFLATED or inflater.unconsumed_tail:
        return "purge list inflates past 10 MiB"
    decoded = text.decode("utf-8", "replace")
    return [entry for entry in decoded.split(";") if entry]
