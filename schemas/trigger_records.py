"""TriggerEvent records (``trigger_event.avsc``): built from a fired trigger, turned into Astarte's body.

The record's ``fields`` hold the event's keys beyond ``type`` as JSON text
(``interface``, ``path``, ``value``, ``old_value``, ``device_ip_address`` ...),
in the order Astarte writes them, so delivery needs no interface to render the
body. Keys starting with ``hw.`` are Headwater's bookkeeping (when the event was
queued, why it was dead-lettered) and never reach the body.
"""

from __future__ import annotations

import json
from typing import Any

from schemas.introspection import parse_introspection
from schemas.mapping import MappingType
from schemas.trigger_events import ValueType, data_event, device_event, iso_z

__all__ = [
    "ENQUEUED_AT",
    "REASON",
    "data_record",
    "device_record",
    "event_body",
    "public_record",
    "reading_value_type",
]

ENQUEUED_AT = "hw.enqueued_at"
"""Microseconds when the event was queued for delivery (its age for ``event_ttl`` counts from it)."""
REASON = "hw.reason"
"""Why a dead-lettered event could not be delivered."""


def reading_value_type(value_type: str) -> ValueType:
    """A reading's ``value_type`` as ``data_event`` wants it (objects keep their values as they are)."""
    try:
        return MappingType(value_type)
    except ValueError:
        return None


def _record(
    body: dict[str, Any],
    *,
    event_id: str,
    realm: str,
    policy: str | None,
    timestamp_us: int,
    now_us: int,
    value: object = None,
    value_type: str | None = None,
) -> dict[str, Any]:
    event = body["event"]
    fields = {k: json.dumps(v, separators=(",", ":")) for k, v in event.items() if k != "type"}
    fields[ENQUEUED_AT] = str(now_us)
    return {
        "event_id": event_id,
        "realm": realm,
        "trigger_name": body["trigger_name"],
        "policy": policy,
        "device_id": body["device_id"],
        "timestamp": timestamp_us,
        "event_type": event["type"],
        "interface": event.get("interface"),
        "path": event.get("path"),
        "value_type": value_type,
        "value": value,
        "fields": fields,
    }


def data_record(
    *,
    event_id: str,
    realm: str,
    trigger_name: str,
    policy: str | None,
    event_type: str,
    reading: dict[str, Any],
    previous_value: object,
    now_us: int,
) -> dict[str, Any]:
    """The record of a data trigger fired by ``reading`` (an IngestBatch reading)."""
    body = data_event(
        trigger_name=trigger_name,
        device_id=reading["device_id"],
        event_type=event_type,
        timestamp_us=reading["timestamp"],
        interface=reading["interface"],
        path=reading["path"],
        value=reading["value"],
        previous_value=previous_value,
        value_type=reading_value_type(reading["value_type"]),
    )
    return _record(
        body,
        event_id=event_id,
        realm=realm,
        policy=policy,
        timestamp_us=reading["timestamp"],
        now_us=now_us,
        value=reading["value"],
        value_type=reading["value_type"],
    )


def device_record(
    *,
    event_id: str,
    realm: str,
    trigger_name: str,
    policy: str | None,
    device_event_record: dict[str, Any],
    now_us: int,
) -> dict[str, Any]:
    """The record of a device trigger fired by a DeviceEvent record."""
    kind = device_event_record["type"]
    metadata = dict(device_event_record.get("metadata") or {})
    introspection = parse_introspection(metadata.get("introspection", ""))
    body = device_event(
        trigger_name=trigger_name,
        device_id=device_event_record["device_id"],
        event_type=kind,
        timestamp_us=device_event_record["timestamp"],
        device_ip_address=device_event_record.get("ip_address"),
        error_name=device_event_record.get("error_name"),
        metadata=metadata,
        introspection_map=introspection if isinstance(introspection, dict) else None,
        interface=metadata.get("interface"),
        major_version=int(metadata["major_version"]) if "major_version" in metadata else None,
        minor_version=int(metadata["minor_version"]) if "minor_version" in metadata else None,
    )
    return _record(
        body,
        event_id=event_id,
        realm=realm,
        policy=policy,
        timestamp_us=device_event_record["timestamp"],
        now_us=now_us,
    )


def event_body(record: dict[str, Any]) -> dict[str, Any]:
    """Astarte's delivered JSON: ``{timestamp, device_id, trigger_name, event{type, ...}}``."""
    event: dict[str, Any] = {"type": record["event_type"]}
    for key, text in record["fields"].items():
        if not key.startswith("hw."):
            event[key] = json.loads(text)
    return {
        "timestamp": iso_z(record["timestamp"]),
        "device_id": record["device_id"],
        "trigger_name": record["trigger_name"],
        "event": event,
    }


def template_values(record: dict[str, Any]) -> dict[str, Any]:
    """The variables of a mustache template, as Astarte gives them: ``realm``, ``device_id``,
    ``trigger_name``, ``event_type`` and the event's own fields (``value``, ``interface``, ``path``,
    ...) at the top level; the delivered JSON's ``timestamp`` and ``event`` as well."""
    body = event_body(record)
    event = body["event"]
    return {
        **{key: value for key, value in event.items() if key != "type"},
        **body,
        "realm": record["realm"],
        "event_type": record["event_type"],
    }


def public_record(record: dict[str, Any], *, now_us: int) -> dict[str, Any]:
    """The record without dead-letter bookkeeping, queued anew at ``now_us`` (for a replay)."""
    fields = {k: v for k, v in record["fields"].items() if not k.startswith("hw.")}
    fields[ENQUEUED_AT] = str(now_us)
    return {**record, "fields": fields}
