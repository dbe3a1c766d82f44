"""Trigger-event and downlink records round-trip, and every record type has its own fingerprint."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.records import (
    RecordError,
    dead_letters,
    device_events,
    downlinks,
    ingest_batches,
    registry_changes,
    trigger_events,
)

EVENT: dict[str, Any] = {
    "event_id": "e1",
    "realm": "acme",
    "trigger_name": "too_hot",
    "policy": "retry_forever",
    "device_id": "f0VMRgIBAQAAAAAAAAAAAA",
    "timestamp": 1_700_000_000_000_000,
    "event_type": "value_change",
    "interface": "org.acme.Temperature",
    "path": "/room1/value",
    "value_type": "double",
    "value": 21.5,
    "fields": {"old_value": "19.0"},
}
DOWNLINK: dict[str, Any] = {
    "request_id": "r1",
    "realm": "acme",
    "device_id": "f0VMRgIBAQAAAAAAAAAAAA",
    "interface": "org.acme.Commands",
    "major": 1,
    "path": "/lamp/state",
    "value_type": "object",
    "value": {"on": True, "level": 3, "colour": "amber", "curve": [0.1, 0.5]},
    "timestamp": None,
    "qos": 2,
    "retention": "stored",
    "expires_at": 1_700_000_060_000_000,
    "requested_at": 1_700_000_000_000_000,
}


@pytest.mark.parametrize(
    ("codec", "record"),
    [
        (trigger_events(), EVENT),
        (
            trigger_events(),
            {
                **EVENT,
                "interface": None,
                "path": None,
                "value_type": None,
                "value": None,
                "event_type": "device_connected",
                "fields": {"device_ip_address": "10.0.0.1"},
            },
        ),
        (downlinks(), DOWNLINK),
        (
            downlinks(),
            {**DOWNLINK, "value_type": "longintegerarray", "value": [1, 2**62], "expires_at": None},
        ),
        (downlinks(), {**DOWNLINK, "value_type": "boolean", "value": None}),
    ],
)
def test_round_trip(codec: Any, record: dict[str, Any]) -> None:
    assert codec.decode(codec.encode(record)) == record


def test_each_record_type_has_its_own_fingerprint() -> None:
    codecs = [
        ingest_batches(),
        dead_letters(),
        device_events(),
        registry_changes(),
        trigger_events(),
        downlinks(),
    ]

    assert len({codec.fingerprint for codec in codecs}) == len(codecs)


def test_a_record_of_another_type_is_refused() -> None:
    with pytest.raises(RecordError, match="fingerprint"):
        downlinks().decode(trigger_events().encode(EVENT))
