"""Delivered-event JSON: Astarte's envelope, per-type fields, binaryblob and datetime values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.mapping import MappingType
from schemas.trigger_conditions import DataTriggerOn, DeviceTriggerOn
from schemas.trigger_events import data_event, device_event, iso_z, value_to_json

DEV = "f0VMRgIBAQAAAAAAAAAAAA"
T_US = 1_704_067_200_123_000  # 2024-01-01T00:00:00.123Z
IFACE = "org.example.Sensors"


def test_iso_z() -> None:
    assert iso_z(T_US) == "2024-01-01T00:00:00.123Z"
    assert iso_z(1_704_067_200_123_456) == "2024-01-01T00:00:00.123456Z"
    assert iso_z(0) == "1970-01-01T00:00:00.000Z"


VALUES: list[tuple[object, Any, object]] = [
    (1.5, MappingType.DOUBLE, 1.5),
    (7, "integer", 7),
    (True, MappingType.BOOLEAN, True),
    ("hi", MappingType.STRING, "hi"),
    (b"\x01\x02\x03", MappingType.BINARYBLOB, "AQID"),
    (T_US, MappingType.DATETIME, "2024-01-01T00:00:00.123Z"),
    ([b"\x01", b"\x02"], MappingType.BINARYBLOBARRAY, ["AQ==", "Ag=="]),
    ([T_US, 0], "datetimearray", ["2024-01-01T00:00:00.123Z", "1970-01-01T00:00:00.000Z"]),
    ([1.0, 2.0], MappingType.DOUBLEARRAY, [1.0, 2.0]),
    ({"a": b"\xff", "t": T_US, "n": 1}, {"a": "binaryblob", "t": "datetime", "n": "integer"},
     {"a": "/w==", "t": "2024-01-01T00:00:00.123Z", "n": 1}),
    (None, MappingType.BINARYBLOB, None),
    (b"\x01", None, b"\x01"),
]  # fmt: skip


@pytest.mark.parametrize(("value", "value_type", "expected"), VALUES)
def test_value_to_json(value: object, value_type: Any, expected: object) -> None:
    assert value_to_json(value, value_type) == expected


def event(kind: DataTriggerOn, **kw: Any) -> dict[str, Any]:
    return data_event(
        trigger_name="t",
        device_id=DEV,
        event_type=kind,
        timestamp_us=T_US,
        interface=IFACE,
        path="/s1/v",
        **kw,
    )


@pytest.mark.parametrize(
    "kind", [DataTriggerOn.INCOMING_DATA, DataTriggerOn.VALUE_STORED, DataTriggerOn.PATH_CREATED]
)
def test_value_events(kind: DataTriggerOn) -> None:
    body = event(kind, value=b"\x00", value_type="binaryblob")
    assert body == {
        "timestamp": "2024-01-01T00:00:00.123Z",
        "device_id": DEV,
        "trigger_name": "t",
        "event": {"type": kind.value, "interface": IFACE, "path": "/s1/v", "value": "AA=="},
    }
    json.dumps(body)


@pytest.mark.parametrize("kind", [DataTriggerOn.VALUE_CHANGE, DataTriggerOn.VALUE_CHANGE_APPLIED])
def test_change_events_carry_old_and_new(kind: DataTriggerOn) -> None:
    body = event(kind, value=T_US, previous_value=0, value_type=MappingType.DATETIME)
    assert body["event"] == {
        "type": kind.value,
        "interface": IFACE,
        "path": "/s1/v",
        "old_value": "1970-01-01T00:00:00.000Z",
        "new_value": "2024-01-01T00:00:00.123Z",
    }


def test_path_removed_has_no_value() -> None:
    assert event(DataTriggerOn.PATH_REMOVED, previous_value=1.0)["event"] == {
        "type": "path_removed",
        "interface": IFACE,
        "path": "/s1/v",
    }


DEVICE_EVENTS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("device_connected", {"device_ip_address": "10.0.0.7"}, {"device_ip_address": "10.0.0.7"}),
    ("device_disconnected", {}, {}),
    ("device_error", {"error_name": "invalid_path", "metadata": {"path": "/x"}},
     {"error_name": "invalid_path", "metadata": {"path": "/x"}}),
    ("device_registered", {}, {}),
    ("device_deletion_started", {}, {}),
    ("device_deletion_finished", {}, {}),
    ("device_empty_cache_received", {}, {}),
    ("incoming_introspection", {"introspection_map": {IFACE: (1, 2)}},
     {"introspection_map": {IFACE: {"major": 1, "minor": 2}}}),
    ("interface_added", {"interface": IFACE, "major_version": 1, "minor_version": 2},
     {"interface": IFACE, "major_version": 1, "minor_version": 2}),
    ("interface_removed", {"interface": IFACE, "major_version": 1}, {"interface": IFACE, "major_version": 1}),
    ("interface_minor_updated",
     {"interface": IFACE, "major_version": 1, "minor_version": 3, "old_minor_version": 2},
     {"interface": IFACE, "major_version": 1, "old_minor_version": 2, "new_minor_version": 3}),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "fields", "extra"), DEVICE_EVENTS, ids=[c[0] for c in DEVICE_EVENTS])
def test_device_events(kind: str, fields: dict[str, Any], extra: dict[str, Any]) -> None:
    body = device_event(trigger_name="d", device_id=DEV, event_type=kind, timestamp_us=T_US, **fields)
    assert body == {
        "timestamp": "2024-01-01T00:00:00.123Z",
        "device_id": DEV,
        "trigger_name": "d",
        "event": {"type": kind, **extra},
    }
    json.dumps(body)


def test_every_device_kind_is_covered() -> None:
    assert {c[0] for c in DEVICE_EVENTS} == {k.value for k in DeviceTriggerOn}


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValueError, match="device_connected"):
        event("device_connected")  # type: ignore[arg-type]
