"""Device identities from usernames, and where each topic a device publishes on goes."""

from __future__ import annotations

import pytest

from broker.topics import DeviceIdentity, Route, TopicKind, route

DEVICE = "f0VMRgIBAQAAAAAAAAAAAA"
ME = DeviceIdentity("acme", DEVICE)
BASE = f"acme/{DEVICE}"


@pytest.mark.parametrize(
    ("username", "identity"),
    [
        (f"acme/{DEVICE}", DeviceIdentity("acme", DEVICE)),
        ("a/b", DeviceIdentity("a", "b")),
        (None, None),
        ("", None),
        ("acme", None),
        (DEVICE, None),
        (f"acme/{DEVICE}/extra", None),
        (f"acme//{DEVICE}", None),
        (f"/acme/{DEVICE}", None),
        (f"acme/{DEVICE}/", None),
        ("/", None),
        (f"/{DEVICE}", None),
        ("acme/", None),
    ],
)
def test_identity_from_username(username: str | None, identity: DeviceIdentity | None) -> None:
    assert DeviceIdentity.from_username(username) == identity


def test_base_topic() -> None:
    assert ME.base_topic == BASE


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (BASE, Route(TopicKind.INTROSPECTION)),
        (f"{BASE}/control/emptyCache", Route(TopicKind.CONTROL, path="/emptyCache")),
        (f"{BASE}/control/consumer/properties", Route(TopicKind.CONTROL, path="/consumer/properties")),
        (f"{BASE}/capabilities", Route(TopicKind.CAPABILITIES)),
        (
            f"{BASE}/org.acme.Temperature/room1/value",
            Route(TopicKind.DATA, interface="org.acme.Temperature", path="/room1/value"),
        ),
        (f"{BASE}/org.acme.Flat/v", Route(TopicKind.DATA, interface="org.acme.Flat", path="/v")),
        (
            f"{BASE}/org.acme.Deep/a/b/c/d/e",
            Route(TopicKind.DATA, interface="org.acme.Deep", path="/a/b/c/d/e"),
        ),
        (f"{BASE}/org.acme.NoPath", Route(TopicKind.DATA, interface="org.acme.NoPath", path="")),
        (f"{BASE}/capabilities/x", Route(TopicKind.DATA, interface="capabilities", path="/x")),
        (f"{BASE}/", Route(TopicKind.DATA, interface="", path="")),
        # Another device of the same realm, including one whose id shares our prefix.
        ("acme/AAAAAAAAAAAAAAAAAAAAAA/org.acme.Temperature/room1/value", Route(TopicKind.FOREIGN)),
        (f"{BASE}2/org.acme.Temperature/room1/value", Route(TopicKind.FOREIGN)),
        (f"{BASE}2", Route(TopicKind.FOREIGN)),
        (f"{BASE}x/capabilities", Route(TopicKind.FOREIGN)),
        # Another realm, or our device id under another realm.
        (f"other/{DEVICE}/org.acme.Temperature/room1/value", Route(TopicKind.FOREIGN)),
        (f"acmex/{DEVICE}", Route(TopicKind.FOREIGN)),
        (f"acm/{DEVICE}", Route(TopicKind.FOREIGN)),
        ("acme", Route(TopicKind.FOREIGN)),
        ("", Route(TopicKind.FOREIGN)),
        (f"/{BASE}/org.acme.Temperature/room1/value", Route(TopicKind.FOREIGN)),
        (f"x/{BASE}", Route(TopicKind.FOREIGN)),
    ],
)
def test_route(topic: str, expected: Route) -> None:
    assert route(ME, topic) == expected


def test_prefix_sharing_device_ids_do_not_see_each_other() -> None:
    short, long = DeviceIdentity("acme", "dev"), DeviceIdentity("acme", "dev2")

    assert route(short, "acme/dev2/org.acme.T/p").kind is TopicKind.FOREIGN
    assert route(short, "acme/dev2").kind is TopicKind.FOREIGN
    assert route(long, "acme/dev/org.acme.T/p").kind is TopicKind.FOREIGN
    assert route(long, "acme/dev2/org.acme.T/p") == Route(TopicKind.DATA, interface="org.acme.T", path="/p")
