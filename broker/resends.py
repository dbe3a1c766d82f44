"""Recognising a resent PUBLISH, so that it is stored as the reading it repeats (pure).

A device resends an unacknowledged QoS 1 PUBLISH with DUP set, same packet id and
payload, after a lost PUBACK or a dropped connection. Its reading must collapse
with the first attempt's row in ClickHouse (ReplacingMergeTree on
``(realm, device, interface, path, timestamp, reading_id)``), so both attempts get

- the same reading id: derived from the packet id and the payload, which the
  device repeats, so it holds even when a new broker process takes the resend;
- the same reception time: the first attempt's, which the session remembers for
  its last packet ids. Readings with an explicit timestamp need only the id; a
  reading timed at reception collapses only while the session that saw its first
  attempt lives (a broker restart loses it).
"""

from __future__ import annotations

import zlib
from itertools import islice
from typing import Any, Final

# Set in every derived id, so none equals a random batch id (those stay below 2**62 + batch size).
_DERIVED: Final = 1 << 62
_ATTRIBUTE: Final = "_headwater_first_seen"
REMEMBERED: Final = 1024
"""Packet ids whose first reception a session remembers at least (more than a client keeps in flight)."""


def reading_id(packet_id: int, payload: bytes) -> int:
    """The stable id of a QoS 1 or 2 reading: the same for every attempt of one PUBLISH."""
    return _DERIVED | packet_id << 32 | zlib.crc32(payload)


class FirstSeen:
    """When a session first received each of its last packet ids."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[int, int] = {}

    def received(self, packet_id: int, dup: bool, now: int) -> int:
        """The reception time to store: the first attempt's for a known resend, else ``now``."""
        seen = self._seen
        if dup:
            first = seen.get(packet_id)
            if first is not None:
                return first
        seen[packet_id] = now
        if len(seen) > 2 * REMEMBERED:  # keep the newest half: amortised O(1), cheaper than an LRU
            self._seen = dict(islice(seen.items(), REMEMBERED, None))
        return now


def first_seen(session: Any) -> FirstSeen:
    """The session's memory of first receptions (a persistent session keeps it across connections)."""
    remembered = getattr(session, _ATTRIBUTE, None)
    if remembered is None:
        remembered = FirstSeen()
        setattr(session, _ATTRIBUTE, remembered)
    return remembered
