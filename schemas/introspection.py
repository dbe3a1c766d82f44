"""Astarte introspection strings: ``name:major:minor;name:major:minor`` (pure)."""

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
