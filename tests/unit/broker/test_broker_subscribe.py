"""Which topics a device may subscribe to."""

from __future__ import annotations

import pytest

from broker.topics import DeviceIdentity, may_subscribe

ME = DeviceIdentity("acme", "f0VMRgIBAQAAAAAAAAAAAA")
SERVER_OWNED = {"org.acme.Commands"}


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        ("acme/f0VMRgIBAQAAAAAAAAAAAA/org.acme.Commands/#", True),
        ("acme/f0VMRgIBAQAAAAAAAAAAAA/org.acme.Commands/lamp/level", True),
        ("acme/f0VMRgIBAQAAAAAAAAAAAA/control/consumer/properties", True),
        ("acme/f0VMRgIBAQAAAAAAAAAAAA/org.acme.Readings/#", False),
        ("acme/f0VMRgIBAQAAAAAAAAAAAA/#", False),
        ("acme/f0VMRgIBAQAAAAAAAAAAAA/+/x", False),
        ("acme/f0VMRgIBAQAAAAAAAAAAAA", False),
        ("acme/AAAAAAAAAAAAAAAAAAAAAA/org.acme.Commands/#", False),
        ("other/f0VMRgIBAQAAAAAAAAAAAA/org.acme.Commands/#", False),
        ("#", False),
        ("acme/#", False),
    ],
)
def test_may_subscribe(topic: str, allowed: bool) -> None:
    assert may_subscribe(ME, topic, SERVER_OWNED.__contains__) is allowed
