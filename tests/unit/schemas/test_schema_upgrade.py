"""Minor upgrades: what may and may not change (Astarte's rules)."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.interface import parse_interface
from schemas.upgrade import minor_upgrade_error

BASE: dict[str, Any] = {
    "interface_name": "org.acme.Sensors",
    "version_major": 1,
    "version_minor": 0,
    "type": "datastream",
    "ownership": "device",
    "mappings": [{"endpoint": "/%{id}/value", "type": "double", "reliability": "guaranteed"}],
}


def _with(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def _mapping(**changes: Any) -> dict[str, Any]:
    return _with(version_minor=1, mappings=[{**BASE["mappings"][0], **changes}])


ALLOWED = [
    pytest.param(_with(version_minor=1), id="only the minor grows"),
    pytest.param(_with(version_minor=3, description="new words"), id="description"),
    pytest.param(_mapping(doc="d", description="x"), id="mapping doc and description"),
    pytest.param(_mapping(explicit_timestamp=True), id="explicit_timestamp"),
    pytest.param(_mapping(retention="stored", expiry=60), id="retention and expiry"),
    pytest.param(
        _with(version_minor=1, mappings=[*BASE["mappings"], {"endpoint": "/%{id}/unit", "type": "string"}]),
        id="a new mapping",
    ),
]

REFUSED = [
    pytest.param(_with(), "version_minor must grow", id="same minor"),
    pytest.param(_with(version_minor=1, ownership="server"), "ownership", id="ownership"),
    pytest.param(
        _with(version_minor=1, type="properties", mappings=[{"endpoint": "/%{id}/value", "type": "double"}]),
        "type",
        id="type",
    ),
    pytest.param(_with(version_minor=1, version_major=2), "version_major", id="major"),
    pytest.param(_with(version_minor=1, interface_name="org.acme.Other"), "interface_name", id="name"),
    pytest.param(
        _with(version_minor=1, mappings=[{"endpoint": "/%{id}/other", "type": "double"}]),
        "/%{id}/value cannot be removed",
        id="mapping removed",
    ),
    pytest.param(_mapping(type="integer"), "type", id="mapping type"),
    pytest.param(_mapping(reliability="unique"), "reliability", id="mapping reliability"),
]


@pytest.mark.parametrize("candidate", ALLOWED)
def test_allowed_upgrades(candidate: dict[str, Any]) -> None:
    assert minor_upgrade_error(parse_interface(BASE), parse_interface(candidate)) is None


@pytest.mark.parametrize(("candidate", "reason"), REFUSED)
def test_refused_upgrades_say_why(candidate: dict[str, Any], reason: str) -> None:
    problem = minor_upgrade_error(parse_interface(BASE), parse_interface(candidate))

    assert problem is not None and reason in problem


def test_the_standard_interfaces_parse() -> None:
    from schemas.standard import standard_interfaces

    names = [interface.name for interface in standard_interfaces()]

    assert names == [
        "org.astarte-platform.genericsensors.AvailableSensors",
        "org.astarte-platform.genericsensors.Geolocation",
        "org.astarte-platform.genericsensors.SamplingRate",
        "org.astarte-platform.genericsensors.Values",
    ]
