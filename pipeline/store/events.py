"""Device events in ClickHouse: the insert columns of decoded records, and reading them back.

A record of ``hw.device-events`` (``schemas/avro/device_event.avsc``) becomes one row of
``device_events``. Its id is a hash of the whole record, so the same event read twice (a
replay, a redelivery) is the same row, which the ReplacingMergeTree keeps once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.store.migrations import EVENT_COLUMNS
from pipeline.store.readings import Window, iso_time

if TYPE_CHECKING:
    from pipeline.store.clickhouse import ClickHouseStore


def event_id(record: dict[str, Any]) -> int:
    """A stable 64-bit id of a device event record: equal records, equal ids."""
    canonical = json.dumps(
        [
            record["timestamp"],
            record["realm"],
            record["device_id"],
            record["type"],
            record.get("ip_address"),
            record.get("error_name"),
            sorted((record.get("metadata") or {}).items()),
        ],
        separators=(",", ":"),
    )
    return int.from_bytes(hashlib.blake2b(canonical.encode(), digest_size=8).digest(), "big")


def event_columns(records: list[dict[str, Any]], ttl_seconds: int = 0) -> list[list[Any]]:
    """Column lists in ``EVENT_COLUMNS`` order; every row lives ``ttl_seconds`` (0: for ever)."""
    columns = [
        [r["realm"] for r in records],
        [r["device_id"] for r in records],
        [r["timestamp"] for r in records],
        [event_id(r) for r in records],
        [r["type"] for r in records],
        [r.get("ip_address") for r in records],
        [r.get("error_name") for r in records],
        [dict(r.get("metadata") or {}) for r in records],
        [ttl_seconds] * len(records),
    ]
    assert len(columns) == len(EVENT_COLUMNS)
    return columns


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """One stored device event; ``timestamp`` in microseconds since the epoch."""

    timestamp: int
    type: str
    ip_address: str | None = None
    error_name: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "timestamp": iso_time(self.timestamp),
            "type": self.type,
            "ip_address": self.ip_address,
            "error_name": self.error_name,
            "metadata": self.metadata,
        }


async def device_event_log(
    store: ClickHouseStore, *, realm: str, device_id: str, window: Window
) -> list[DeviceEvent]:
    """A device's events in the window, oldest first; without a lower bound, the latest ``limit``."""
    params: dict[str, Any] = {"realm": realm, "device": device_id}
    where = ["realm = {realm:String}", "device_id = {device:String}", *window.where(params)]
    order = window.order
    sql = (
        "SELECT toUnixTimestamp64Micro(timestamp), type, ip_address, error_name, metadata "
        f"FROM {{db}}.device_events FINAL WHERE {' AND '.join(where)} "
        f"ORDER BY timestamp {order}, event_id {order} {window.LIMIT}"
    )
    events = [
        DeviceEvent(row[0], row[1], row[2], row[3], dict(row[4])) for row in await store.query(sql, params)
    ]
    if window.newest_first:
        events.reverse()
    return events
