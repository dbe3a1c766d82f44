"""Which CONNECTs an authenticated device may make: its own client id, and a will it could publish."""

from __future__ import annotations

import bson
import pytest

from broker.sessions import Will, refusal
from broker.topics import DeviceIdentity
from tests.unit.broker.test_broker_ingest import INTERFACES

ME = DeviceIdentity("acme", "f0VMRgIBAQAAAAAAAAAAAA")
OTHER = "acme/AAAAAAAAAAAAAAAAAAAAAA"
READING = bson.encode({"v": 1.5})


@pytest.mark.parametrize(
    ("client_id", "will", "refused"),
    [
        (ME.base_topic, None, False),
        (ME.base_topic, Will(f"{ME.base_topic}/org.acme.Plain/s1/value", READING, 1), False),
        (OTHER, None, True),
        ("amqtt/AbCdEfGhIjKlMn12", None, False),  # the device sent none: amqtt assigned it
        ("amqtt/AbCdEfGhIjKlMn12/x", None, True),
        ("", None, True),
        (None, None, True),
        (f"{ME.base_topic}/x", None, True),
        (ME.base_topic, Will(f"{OTHER}/org.acme.Plain/s1/value", READING, 1), True),
        (ME.base_topic, Will(f"{OTHER}/org.acme.Commands/s1/value", READING, 1), True),
        (ME.base_topic, Will(f"{ME.base_topic}/org.acme.Commands/s1/value", READING, 1), True),
        (ME.base_topic, Will(f"{ME.base_topic}/org.acme.Plain/s1/value", bson.encode({"v": "x"}), 1), True),
        (ME.base_topic, Will(f"{ME.base_topic}/org.acme.Missing/s1/value", READING, 0), True),
        (ME.base_topic, Will(f"{ME.base_topic}/org.acme.Plain/s1/value", READING, 3), True),
        (ME.base_topic, Will(ME.base_topic, b"org.acme.Plain:2:1", 1), True),
        (ME.base_topic, Will(f"{ME.base_topic}/control/emptyCache", b"1", 1), True),
    ],
)
def test_a_connect_is_refused_unless_its_client_id_and_will_are_the_devices_own(
    client_id: str | None, will: Will | None, refused: bool
) -> None:
    assert (refusal(INTERFACES, ME, client_id, will) is not None) is refused  # type: ignore[arg-type]
