"""Astarte introspections (pure): the MQTT string ``name:major:minor;...`` and the pairing API's
``initial_introspection`` document ``{"name": {"major": 1, "minor": 0}, ...}``."""

from __future__ import annotations

import re

_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9.-]{0,127}$")


def parse_introspection(text: str) -> dict[str, tuple[int, int]] | str:
    """The interfaces and versions an introspection declares, or why it is invalid."""
    interfaces: dict[str, tuple[int, int]] = {}
    if not text:
        return interfaces
    for entry in text.split(";"):
        parts = entry.split(":")
        if len(parts) != 3 or not _NAME.match(parts[0]):
            return f"introspection entry {entry!r} is not name:major:minor"
        name, major, minor = parts
        if not (major.isdigit() and minor.isdigit()):
            return f"introspection entry {entry!r} has a non-numeric version"
        if name in interfaces:
            return f"introspection names {name} twice"
        interfaces[name] = (int(major), int(minor))
    return interfaces


def parse_initial_introspection(document: dict[str, object]) -> dict[str, tuple[int, int]] | str:
    """The interfaces and versions of a registration's ``initial_introspection``, or why it is invalid."""
    interfaces: dict[str, tuple[int, int]] = {}
    for name, version in document.items():
        if not _NAME.match(name):
            return f"initial_introspection: {name!r} is not an interface name"
        if not isinstance(version, dict) or set(version) != {"major", "minor"}:
            return f"initial_introspection: {name} must map to {{'major': int, 'minor': int}}"
        major, minor = version["major"], version["minor"]
        if type(major) is not int or type(minor) is not int or major < 0 or minor < 0:
            return f"initial_introspection: {name} has a version that is not two integers >= 0"
        interfaces[name] = (major, minor)
    return interfaces
