"""Dead letters as data (pure): the record of a reading that cannot be stored, ids, topic parts.

A dead letter (``avro/dead_letter.avsc``) keeps a device message with the reason it was
refused. The broker writes them for messages it refuses; the worker writes them for
validated readings ClickHouse can never store, rebuilt as the Astarte BSON payload a
device would have sent (``{"v": ..., "t": ...}``), so a replay goes through the same
validation as a device's message.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import bson
from bson.datetime_ms import DatetimeMS

from schemas.mapping import MappingType
from schemas.values import bson_encoder

WORKER_SOURCE: Final = "worker"
"""``broker_id`` of dead letters the worker writes (the broker writes its own id)."""
UNSTORABLE: Final = "unstorable_value"
"""Reason of a reading whose value or time ClickHouse cannot hold (checked before the insert)."""
STORE_REFUSED: Final = "store_refused"
"""Reason of a reading ClickHouse or its client refused at the insert."""


def reading_topic(reading: dict[str, Any]) -> str:
    """The MQTT topic the reading was published on."""
    return f"{reading['realm']}/{reading['device_id']}/{reading['interface']}{reading['path']}"


def reading_payload(reading: dict[str, Any]) -> bytes:
    """The Astarte BSON payload of a reading (its timestamp as ``t`` when it was not the reception's).

    Never raises: a value that does not fit its declared type is encoded as it is, and one
    BSON cannot hold gives an empty payload (the detail of the letter still names it).
    """
    value = reading["value"]
    doc: dict[str, Any] = {}
    try:
        doc["v"] = bson_encoder(MappingType(reading["value_type"]))(value)
    except (ValueError, TypeError, OverflowError, KeyError):
        doc["v"] = value
    if reading["timestamp"] != reading["reception_timestamp"]:
        doc["t"] = DatetimeMS(reading["timestamp"] // 1000)
    try:
        return bson.encode(doc)
    except (bson.errors.BSONError, OverflowError, TypeError, ValueError):
        return b""


def worker_letter(reading: dict[str, Any], reason: str, detail: str) -> dict[str, Any]:
    """The dead-letter record of a validated reading the worker cannot store."""
    return {
        "received_at": reading["reception_timestamp"],
        "broker_id": WORKER_SOURCE,
        "realm": reading["realm"],
        "device_id": reading["device_id"],
        "topic": reading_topic(reading),
        "qos": 0,  # not carried by ingest records
        "payload": reading_payload(reading),
        "reason": reason,
        "detail": detail,
    }


def letter_id(record: dict[str, Any]) -> int:
    """A stable 63-bit id of a dead-letter record: the same record written twice has one id."""
    digest = hashlib.blake2b(digest_size=8)
    for part in (
        str(record["received_at"]),
        record.get("realm") or "",
        record.get("device_id") or "",
        record["topic"],
        record["reason"],
        record["detail"],
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(record["payload"])
    return int.from_bytes(digest.digest(), "big") >> 1


def topic_parts(topic: str, realm: str | None, device_id: str | None) -> tuple[str, str]:
    """The interface and path of a device's data topic (``""`` for those of other topics)."""
    base = f"{realm}/{device_id}/"
    if realm is None or device_id is None or not topic.startswith(base):
        return "", ""
    interface, slash, path = topic[len(base) :].partition("/")
    if interface == "control" or not slash:
        return "", ""
    return interface, "/" + path
