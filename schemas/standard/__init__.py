"""Bundled standard interfaces (Astarte's generic sensors)."""

from __future__ import annotations

from importlib import resources

from schemas.interface import Interface, parse_interface


def standard_interfaces() -> list[Interface]:
    """The bundled standard interfaces, parsed, in name order."""
    folder = resources.files("schemas.standard")
    files = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".json"))
    return [parse_interface(folder.joinpath(name).read_text()) for name in files]
