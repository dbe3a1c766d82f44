"""Judging a data PUBLISH: the ingest reading it becomes, or Astarte's reason to refuse it."""

from __future__ import annotations

from typing import Any

import bson
import pytest
from bson.datetime_ms import DatetimeMS

from broker.ingest import judge, looks_like_bson
from broker.topics import DeviceIdentity, Route, TopicKind, route
from schemas.interface import parse_interface
from schemas.payload import CompiledInterface, DeviceErrorName, Rejection

DEVICE = "f0VMRgIBAQAAAAAAAAAAAA"
ME = DeviceIdentity("acme", DEVICE)
RECEIVED_US = 1_704_067_200_500_000
SENT_MS = 1_704_067_100_123


def interface(name: str, *, ownership: str = "device", explicit_timestamp: bool = False) -> dict[str, Any]:
    return {
        "interface_name": name,
        "version_major": 2,
        "version_minor": 1,
        "type": "datastream",
        "ownership": ownership,
        "mappings": [
            {"endpoint": "/%{sensor}/value", "type": "double", "explicit_timestamp": explicit_timestamp},
            {"endpoint": "/%{sensor}/label", "type": "string", "explicit_timestamp": explicit_timestamp},
        ],
    }


class Interfaces:
    """A lookup table standing in for the broker's InterfaceCache: (realm, name) to compiled interface."""

    def __init__(self, realm: str, *documents: dict[str, Any]) -> None:
        self._table = {
            (realm, doc["interface_name"]): CompiledInterface(parse_interface(doc)) for doc in documents
        }

    def get(self, realm: str, name: str) -> CompiledInterface | None:
        return self._table.get((realm, name))


INTERFACES = Interfaces(
    "acme",
    interface("org.acme.Plain"),
    interface("org.acme.Stamped", explicit_timestamp=True),
    interface("org.acme.Commands", ownership="server"),
)


# What the device declared in its introspection, including one the realm does not have.
DECLARED = frozenset({"org.acme.Plain", "org.acme.Stamped", "org.acme.Commands", "org.acme.Unknown"})


def data(interface_name: str, path: str) -> Route:
    return Route(TopicKind.DATA, interface=interface_name, path=path)


def run(interface_name: str, path: str, payload: bytes, identity: DeviceIdentity = ME) -> Any:
    return judge(INTERFACES, identity, data(interface_name, path), payload, RECEIVED_US, declared=DECLARED)  # type: ignore[arg-type]


def expected(
    interface_name: str, path: str, value_type: str, value: object, timestamp: int
) -> dict[str, Any]:
    return {
        "realm": "acme",
        "device_id": DEVICE,
        "interface": interface_name,
        "major": 2,
        "path": path,
        "value_type": value_type,
        "value": value,
        "timestamp": timestamp,
        "reception_timestamp": RECEIVED_US,
        "reading_id": None,
    }


@pytest.mark.parametrize(
    ("interface_name", "path", "payload", "reading"),
    [
        (
            "org.acme.Plain",
            "/room1/value",
            bson.encode({"v": 21.5}),
            expected("org.acme.Plain", "/room1/value", "double", 21.5, RECEIVED_US),
        ),
        # Without explicit_timestamp a device's 't' is ignored: the value time is the reception time.
        (
            "org.acme.Plain",
            "/room1/value",
            bson.encode({"v": 21.5, "t": DatetimeMS(SENT_MS)}),
            expected("org.acme.Plain", "/room1/value", "double", 21.5, RECEIVED_US),
        ),
        (
            "org.acme.Stamped",
            "/room1/value",
            bson.encode({"v": -3.25, "t": DatetimeMS(SENT_MS)}),
            expected("org.acme.Stamped", "/room1/value", "double", -3.25, SENT_MS * 1000),
        ),
        # explicit_timestamp allows 't' but does not require it.
        (
            "org.acme.Stamped",
            "/room1/value",
            bson.encode({"v": 1.0}),
            expected("org.acme.Stamped", "/room1/value", "double", 1.0, RECEIVED_US),
        ),
        (
            "org.acme.Plain",
            "/room2/label",
            bson.encode({"v": "kitchen"}),
            expected("org.acme.Plain", "/room2/label", "string", "kitchen", RECEIVED_US),
        ),
        # The documented JSON form of plain clients.
        (
            "org.acme.Plain",
            "/room1/value",
            b'{"v": 21.5}',
            expected("org.acme.Plain", "/room1/value", "double", 21.5, RECEIVED_US),
        ),
        (
            "org.acme.Stamped",
            "/room1/value",
            b'{"v": 2.5, "t": "2024-01-01T00:00:00.250Z"}',
            expected("org.acme.Stamped", "/room1/value", "double", 2.5, 1_704_067_200_250_000),
        ),
    ],
)
def test_accepted_readings(interface_name: str, path: str, payload: bytes, reading: dict[str, Any]) -> None:
    outcome = run(interface_name, path, payload)

    assert outcome == reading
    assert type(outcome["value"]) is type(reading["value"])


@pytest.mark.parametrize(
    ("identity", "interface_name", "path", "payload", "error"),
    [
        (ME, "org.acme.Unknown", "/room1/value", bson.encode({"v": 1.0}), "interface_loading_failed"),
        (
            DeviceIdentity("other", DEVICE),
            "org.acme.Plain",
            "/room1/value",
            bson.encode({"v": 1.0}),
            "interface_loading_failed",
        ),
        (ME, "org.acme.Commands", "/room1/value", bson.encode({"v": 1.0}), "write_on_server_owned_interface"),
        (ME, "org.acme.Plain", "/room1/value", bson.encode({"v": "hot"}), "unexpected_value_type"),
        (ME, "org.acme.Plain", "/room1/value", bson.encode({"v": True}), "unexpected_value_type"),
        (ME, "org.acme.Plain", "/room1/label", bson.encode({"v": 1.5}), "unexpected_value_type"),
        (ME, "org.acme.Plain", "/room1/value", b'{"v": "hot"}', "unexpected_value_type"),
        (
            ME,
            "org.acme.Stamped",
            "/room1/value",
            bson.encode({"v": 1.0, "t": "yesterday"}),
            "unexpected_value_type",
        ),
        (ME, "org.acme.Plain", "/room1/other", bson.encode({"v": 1.0}), "mapping_not_found"),
        (ME, "org.acme.Plain", "/room1/value/extra", bson.encode({"v": 1.0}), "mapping_not_found"),
        (ME, "org.acme.Plain", "/room1", bson.encode({"v": 1.0}), "mapping_not_found"),
        (ME, "org.acme.Plain", "/room1/value", bson.encode({"x": 1.0}), "undecodable_bson_payload"),
        (ME, "org.acme.Plain", "/room1/value", b"not json, not bson", "undecodable_bson_payload"),
    ],
)
def test_refused_readings(
    identity: DeviceIdentity, interface_name: str, path: str, payload: bytes, error: str
) -> None:
    outcome = run(interface_name, path, payload, identity)

    assert isinstance(outcome, Rejection)
    assert outcome.error is DeviceErrorName(error)
    assert outcome.detail


def test_unknown_interface_detail_names_interface_and_realm() -> None:
    outcome = run("org.acme.Unknown", "/room1/value", bson.encode({"v": 1.0}))

    assert isinstance(outcome, Rejection)
    assert "org.acme.Unknown" in outcome.detail
    assert "acme" in outcome.detail


@pytest.mark.parametrize("declared", [frozenset(), frozenset({"org.acme.Stamped"})])
def test_an_interface_outside_the_introspection_is_refused(declared: frozenset[str]) -> None:
    outcome = judge(
        INTERFACES,  # type: ignore[arg-type]
        ME,
        data("org.acme.Plain", "/room1/value"),
        bson.encode({"v": 1.0}),
        RECEIVED_US,
        declared=declared,
    )

    assert isinstance(outcome, Rejection)
    assert outcome.error is DeviceErrorName.INTERFACE_LOADING_FAILED
    assert "org.acme.Plain" in outcome.detail and "introspection" in outcome.detail


def test_server_owned_is_refused_before_the_payload_is_read() -> None:
    outcome = run("org.acme.Commands", "/no/such/path", b"garbage")

    assert isinstance(outcome, Rejection)
    assert outcome.error is DeviceErrorName.WRITE_ON_SERVER_OWNED_INTERFACE


def test_routed_topic_to_reading() -> None:
    where = route(ME, f"acme/{DEVICE}/org.acme.Stamped/hall/value")
    outcome = judge(
        INTERFACES,  # type: ignore[arg-type]
        ME,
        where,
        bson.encode({"v": 4.0, "t": DatetimeMS(SENT_MS)}),
        RECEIVED_US,
        declared=DECLARED,
    )

    assert outcome == expected("org.acme.Stamped", "/hall/value", "double", 4.0, SENT_MS * 1000)


@pytest.mark.parametrize(
    ("payload", "is_bson"),
    [
        (b"", True),
        (bson.encode({"v": 1.0}), True),
        (bson.encode({}), True),
        (b'{"v": 1.0}', False),
        (b"\x05\x00\x00\x00", False),  # too short
        (b"\x05\x00\x00\x00\x01", False),  # no trailing zero
        (b"\x06\x00\x00\x00\x00", False),  # wrong length
    ],
)
def test_looks_like_bson(payload: bytes, is_bson: bool) -> None:
    assert looks_like_bson(payload) is is_bson


def test_a_publish_with_a_packet_id_gets_the_id_its_resends_share() -> None:
    payload = bson.encode({"v": 21.5})
    where = data("org.acme.Plain", "/room1/value")

    first = judge(INTERFACES, ME, where, payload, RECEIVED_US, declared=DECLARED, packet_id=7)  # type: ignore[arg-type]
    resent = judge(INTERFACES, ME, where, payload, RECEIVED_US + 5, declared=DECLARED, packet_id=7)  # type: ignore[arg-type]
    other = judge(INTERFACES, ME, where, payload, RECEIVED_US, declared=DECLARED, packet_id=8)  # type: ignore[arg-type]

    assert isinstance(first, dict) and isinstance(resent, dict) and isinstance(other, dict)
    assert first["reading_id"] == resent["reading_id"] != other["reading_id"]
    assert run("org.acme.Plain", "/room1/value", payload)["reading_id"] is None  # QoS 0
