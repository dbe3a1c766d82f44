"""Astarte's delivered-event JSON (astarte.md §6), built from canonical values.

``{"timestamp": "…Z", "device_id", "trigger_name", "event": {"type", ...}}``
where a data event carries ``interface`` and ``path`` plus ``value``
(incoming_data, value_stored, path_created), ``old_value`` and ``new_value``
(value_change, value_change_applied) or nothing (path_removed). Values are
JSON: binaryblob as base64, datetime as ISO-8601 ``Z``, objects key by key.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.mapping import MappingType
from schemas.trigger_conditions import DataTriggerOn, DeviceTriggerOn
from schemas.values import format_iso8601_us

__all__ = ["ValueType", "data_event", "device_event", "iso_z", "value_to_json"]

ValueType = MappingType | str | Mapping[str, MappingType | str] | None
"""A value's mapping type, or an object's types by key; None leaves the value as is."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_VALUE_EVENTS = frozenset(
    {DataTriggerOn.INCOMING_DATA, DataTriggerOn.VALUE_STORED, DataTriggerOn.PATH_CREATED}
)
_CHANGE_EVENTS = frozenset({DataTriggerOn.VALUE_CHANGE, DataTriggerOn.VALUE_CHANGE_APPLIED})


def iso_z(timestamp_us: int) -> str:
    """ISO-8601 UTC with ``Z``: milliseconds, or microseconds when they are not zero."""
    digits = 3 if timestamp_us % 1000 == 0 else 6
    try:
        moment = _EPOCH + timedelta(microseconds=timestamp_us)
    except OverflowError:
        return format_iso8601_us(timestamp_us, digits)
    spec = "milliseconds" if digits == 3 else "microseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def _scalar(element: MappingType, value: object) -> object:
    if element is MappingType.BINARYBLOB and isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if element is MappingType.DATETIME and type(value) is int:
        return iso_z(value)
    return value


def value_to_json(value: object, value_type: ValueType) -> object:
    """A canonical value as event JSON (None stays None)."""
    if value is None or value_type is None:
        return value
    if isinstance(value_type, Mapping):
        if not isinstance(value, dict):
            return value
        return {k: value_to_json(v, value_type.get(k)) for k, v in value.items()}
    mapping_type = MappingType(value_type)
    if mapping_type.is_array and isinstance(value, list):
        return [_scalar(mapping_type.element, v) for v in value]
    return _scalar(mapping_type, value)


def _envelope(trigger_name: str, device_id: str, timestamp_us: int, event: dict[str, Any]) -> dict[str, Any]:
    return {
        "timestamp": iso_z(timestamp_us),
        "device_id": device_id,
        "trigger_name": trigger_name,
        "event": event,
    }


def data_event(
    *,
    trigger_name: str,
    device_id: str,
    event_type: DataTriggerOn | str,
    timestamp_us: int,
    interface: str,
    path: str,
    value: object = None,
    previous_value: object = None,
    value_type: ValueType = None,
) -> dict[str, Any]:
    """The JSON body Astarte delivers for a data trigger's event."""
    kind = DataTriggerOn(event_type)
    event: dict[str, Any] = {"type": kind.value, "interface": interface, "path": path}
    if kind in _VALUE_EVENTS:
        event["value"] = value_to_json(value, value_type)
    elif kind in _CHANGE_EVENTS:
        event["old_value"] = value_to_json(previous_value, value_type)
        event["new_value"] = value_to_json(value, value_type)
    return _envelope(trigger_name, device_id, timestamp_us, event)


def device_event(
    *,
    trigger_name: str,
    device_id: str,
    event_type: DeviceTriggerOn | str,
    timestamp_us: int,
    device_ip_address: str | None = None,
    error_name: str | None = None,
    metadata: Mapping[str, str] | None = None,
    introspection_map: Mapping[str, tuple[int, int]] | None = None,
    interface: str | None = None,
    major_version: int | None = None,
    minor_version: int | None = None,
    old_minor_version: int | None = None,
) -> dict[str, Any]:
    """The JSON body Astarte delivers for a device trigger's event, with its type's fields."""
    kind = DeviceTriggerOn(event_type)
    event: dict[str, Any] = {"type": kind.value}
    if kind is DeviceTriggerOn.DEVICE_CONNECTED:
        event["device_ip_address"] = device_ip_address
    elif kind is DeviceTriggerOn.DEVICE_ERROR:
        event["error_name"] = error_name
        event["metadata"] = dict(metadata or {})
    elif kind is DeviceTriggerOn.INCOMING_INTROSPECTION:
        event["introspection_map"] = {
            name: {"major": major, "minor": minor}
            for name, (major, minor) in (introspection_map or {}).items()
        }
    elif kind is DeviceTriggerOn.INTERFACE_ADDED:
        event.update(interface=interface, major_version=major_version, minor_version=minor_version)
    elif kind is DeviceTriggerOn.INTERFACE_REMOVED:
        event.update(interface=interface, major_version=major_version)
    elif kind is DeviceTriggerOn.INTERFACE_MINOR_UPDATED:
        event.update(
            interface=interface,
            major_version=major_version,
            old_minor_version=old_minor_version,
            new_minor_version=minor_version,
        )
    return _envelope(trigger_name, device_id, timestamp_us, event)
