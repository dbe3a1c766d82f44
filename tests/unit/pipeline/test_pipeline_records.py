"""Avro codecs of the Kafka records: round trips of every record type and refusal of foreign bytes."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest

from schemas.records import (
    MAGIC,
    AvroCodec,
    RecordError,
    dead_letters,
    device_events,
    ingest_batches,
    registry_changes,
)


def reading(
    value_type: str, value: object, path: str = "/room1/value", reading_id: int | None = None
) -> dict[str, Any]:
    return {
        "realm": "acme",
        "device_id": "f0VMRgIBAQAAAAAAAAAAAA",
        "interface": "org.acme.Sensors",
        "major": 2,
        "path": path,
        "value_type": value_type,
        "value": value,
        "timestamp": 1_704_067_200_123_000,
        "reception_timestamp": 1_704_067_200_456_789,
        "reading_id": reading_id,
    }


def batch(*readings: dict[str, Any]) -> dict[str, Any]:
    return {
        "batch_id": "b-1",
        "id_base": 2**62 + 17,
        "broker_id": "broker-a",
        "produced_at": 1_704_067_201_000_000,
        "readings": list(readings),
    }


# Every branch of the reading's value union, and of the object map's value union.
VALUES: list[tuple[str, object]] = [
    ("unset", None),
    ("boolean", True),
    ("boolean", False),
    ("longinteger", 0),
    ("longinteger", -(2**63)),
    ("longinteger", 2**63 - 1),
    ("double", 21.5),
    ("double", 2.0),
    ("double", -0.0),
    ("string", ""),
    ("string", "caf\u00e9 \u2603"),
    ("binaryblob", b""),
    ("binaryblob", b"\x00\xff\x80"),
    ("doublearray", [1.5, -2.0]),
    ("longintegerarray", [1, 2**40, -3]),
    ("booleanarray", [True, False]),
    ("stringarray", ["a", ""]),
    ("binaryblobarray", [b"\x01", b""]),
    ("mixedarray", [True, 1, 1.5, "s", b"b"]),
    ("emptyarray", []),
    (
        "object",
        {
            "none": None,
            "flag": False,
            "count": 7,
            "temp": 21.5,
            "name": "x",
            "blob": b"\x00",
            "series": [1.0, 2.5],
            "ids": [1, 2],
            "mixed": [False, 3, 0.5, "t", b"\xff"],
            "empty": [],
        },
    ),
    ("object", {}),
]


@pytest.mark.parametrize(("value_type", "value"), VALUES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(VALUES)])
def test_ingest_batch_round_trips_every_value_branch(value_type: str, value: object) -> None:
    codec = ingest_batches()
    record = batch(reading(value_type, value))

    decoded = codec.decode(codec.encode(record))

    assert decoded == record
    # Equality alone would let True == 1 == 1.0 through: the union branch must survive too.
    assert repr(decoded["readings"][0]["value"]) == repr(value)


def test_ingest_batch_round_trips_several_readings_in_order() -> None:
    codec = ingest_batches()
    record = batch(
        *(reading("double", float(i), path=f"/s{i}/value", reading_id=i or None) for i in range(5))
    )

    decoded = codec.decode(codec.encode(record))

    assert [r["path"] for r in decoded["readings"]] == [f"/s{i}/value" for i in range(5)]
    assert decoded == record


def test_ingest_batch_round_trips_no_readings() -> None:
    codec = ingest_batches()
    assert codec.decode(codec.encode(batch())) == batch()


DEAD_LETTER = {
    "received_at": 1_704_067_200_000_001,
    "broker_id": "broker-a",
    "realm": "acme",
    "device_id": "f0VMRgIBAQAAAAAAAAAAAA",
    "topic": "acme/f0VMRgIBAQAAAAAAAAAAAA/org.acme.Sensors/room1/value",
    "qos": 1,
    "payload": b"\x05\x00\x00\x00\x00",
    "reason": "unexpected_value_type",
    "detail": "org.acme.Sensors v2 /room1/value (double): expected a number",
    "payload_truncated": False,
    "payload_size": None,
    "payload_sha256": None,
}
DEVICE_EVENT = {
    "timestamp": 1_704_067_200_000_002,
    "realm": "acme",
    "device_id": "f0VMRgIBAQAAAAAAAAAAAA",
    "type": "device_error",
    "ip_address": "10.0.0.7",
    "error_name": "mapping_not_found",
    "metadata": {"detail": "no mapping", "topic": "acme/x/y"},
}
REGISTRY_CHANGE = {"kind": "interface", "realm": "acme", "name": "org.acme.Sensors", "changed_at": 3}

ROUND_TRIPS: list[tuple[Callable[[], AvroCodec], dict[str, Any]]] = [
    (ingest_batches, batch(reading("double", 1.0))),
    (dead_letters, DEAD_LETTER),
    (dead_letters, {**DEAD_LETTER, "realm": None, "device_id": None, "payload": b""}),
    (device_events, DEVICE_EVENT),
    (device_events, {**DEVICE_EVENT, "ip_address": None, "error_name": None, "metadata": {}}),
    (registry_changes, REGISTRY_CHANGE),
    (registry_changes, {**REGISTRY_CHANGE, "kind": "realm", "name": ""}),
]


@pytest.mark.parametrize(("make", "record"), ROUND_TRIPS)
def test_codec_round_trips(make: Callable[[], AvroCodec], record: dict[str, Any]) -> None:
    codec = make()
    data = codec.encode(record)

    assert data[:2] == MAGIC
    assert struct.unpack_from("<Q", data, 2)[0] == codec.fingerprint
    assert codec.decode(data) == record


def test_optional_fields_default_when_left_out() -> None:
    codec = device_events()
    record = {k: v for k, v in DEVICE_EVENT.items() if k not in {"ip_address", "error_name", "metadata"}}

    decoded = codec.decode(codec.encode(record))

    assert decoded["ip_address"] is None
    assert decoded["error_name"] is None
    assert decoded["metadata"] == {}


def test_codecs_are_cached_and_have_distinct_fingerprints() -> None:
    makers = [ingest_batches, dead_letters, device_events, registry_changes]
    assert all(make() is make() for make in makers)
    assert len({make().fingerprint for make in makers}) == len(makers)


CODECS = [ingest_batches, dead_letters, device_events, registry_changes]
SAMPLES = {
    "ingest_batch": batch(reading("object", {"a": [1, 2.5]}), reading("string", "x")),
    "dead_letter": DEAD_LETTER,
    "device_event": DEVICE_EVENT,
    "registry_change": REGISTRY_CHANGE,
}


def _bad_records(codec: AvroCodec) -> list[tuple[str, bytes]]:
    good = codec.encode(SAMPLES[codec.name])
    header, body = good[:10], good[10:]
    other = next(make() for make in CODECS if make().name != codec.name)
    return [
        ("empty", b""),
        ("magic only", MAGIC),
        ("short header", good[:9]),
        ("header only", header),
        ("wrong magic", b"\xc3\x02" + good[2:]),
        ("swapped magic", b"\x01\xc3" + good[2:]),
        ("big-endian fingerprint", MAGIC + struct.pack(">Q", codec.fingerprint) + body),
        ("fingerprint off by one", MAGIC + struct.pack("<Q", codec.fingerprint ^ 1) + body),
        ("another schema's record", other.encode(SAMPLES[other.name])),
        ("truncated by one", good[:-1]),
        ("truncated in half", good[: 10 + len(body) // 2]),
        ("body of 0xff", header + b"\xff" * 16),
        ("huge length prefix", header + b"\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01abc"),
        ("negative length prefix", header + b"\x09"),
        ("invalid utf-8 string", header + b"\x04\xff\xfe"),
    ]


CASES = [(make, label, data) for make in CODECS for label, data in _bad_records(make())]


@pytest.mark.parametrize(
    ("make", "label", "data"), CASES, ids=[f"{make().name}-{label}" for make, label, _ in CASES]
)
def test_foreign_or_broken_bytes_raise_record_error(
    make: Callable[[], AvroCodec], label: str, data: bytes
) -> None:
    codec = make()
    with pytest.raises(RecordError, match=codec.name):
        codec.decode(data)


def test_record_error_is_a_headwater_error() -> None:
    from schemas.errors import HeadwaterError

    assert issubclass(RecordError, HeadwaterError)
