"""Device event rows: stable ids, insert columns, the JSON operators read."""

from __future__ import annotations

from typing import Any

from pipeline.store.events import DeviceEvent, event_columns, event_id
from pipeline.store.migrations import EVENT_COLUMNS

T0 = 1_700_000_000_123_456


def _record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "timestamp": T0,
        "realm": "acme",
        "device_id": "f0VMRgIBAQAAAAAAAAAAAA",
        "type": "device_connected",
        "ip_address": "10.0.0.7",
        "error_name": None,
        "metadata": {"b": "2", "a": "1"},
    }
    return record | changes


def test_an_event_id_is_the_same_for_the_same_record() -> None:
    reordered = _record(metadata={"a": "1", "b": "2"})

    assert event_id(_record()) == event_id(_record()) == event_id(reordered)
    assert 0 <= event_id(_record()) < 2**64


def test_any_field_changes_the_event_id() -> None:
    changed = [
        _record(timestamp=T0 + 1),
        _record(realm="other"),
        _record(device_id="AAAAAAAAAAAAAAAAAAAAAA"),
        _record(type="device_disconnected"),
        _record(ip_address=None),
        _record(error_name="invalid_introspection"),
        _record(metadata={"a": "1"}),
    ]

    ids = {event_id(record) for record in changed}

    assert len(ids) == len(changed) and event_id(_record()) not in ids


def test_event_columns_follow_the_insert_order() -> None:
    columns = event_columns(
        [_record(), _record(type="device_disconnected", ip_address=None)], ttl_seconds=3600
    )

    by_name = dict(zip(EVENT_COLUMNS, columns, strict=True))
    assert by_name["type"] == ["device_connected", "device_disconnected"]
    assert by_name["ip_address"] == ["10.0.0.7", None]
    assert by_name["timestamp"] == [T0, T0]
    assert by_name["event_id"][0] == event_id(_record())
    assert by_name["metadata"][0] == {"a": "1", "b": "2"}
    assert by_name["ttl_seconds"] == [3600, 3600]


def test_an_event_reads_as_json_with_astarte_times() -> None:
    event = DeviceEvent(T0, "device_error", None, "invalid_introspection", {"detail": "x"})

    assert event.to_json() == {
        "timestamp": "2023-11-14T22:13:20.123Z",
        "type": "device_error",
        "ip_address": None,
        "error_name": "invalid_introspection",
        "metadata": {"detail": "x"},
    }
