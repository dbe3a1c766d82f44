"""Rows carry their mapping's database_retention_ttl into the insert."""

from __future__ import annotations

from typing import Any

from pipeline.store.columns import individual_columns
from pipeline.store.migrations import INDIVIDUAL_COLUMNS
from pipeline.store.shapes import Shape
from schemas.interface import parse_interface

INTERFACE = parse_interface(
    {
        "interface_name": "org.acme.Short",
        "version_major": 1,
        "version_minor": 0,
        "type": "datastream",
        "ownership": "device",
        "mappings": [
            {"endpoint": "/kept/%{id}", "type": "double"},
            {
                "endpoint": "/brief/%{id}",
                "type": "double",
                "database_retention_policy": "use_ttl",
                "database_retention_ttl": 3600,
            },
        ],
    }
)


def _reading(path: str) -> dict[str, Any]:
    return {
        "realm": "acme",
        "device_id": "f0VMRgIBAQAAAAAAAAAAAA",
        "interface": "org.acme.Short",
        "major": 1,
        "path": path,
        "value_type": "double",
        "value": 1.0,
        "timestamp": 1,
        "reception_timestamp": 2,
    }


def test_each_row_gets_its_mappings_ttl() -> None:
    batch = {"id_base": 0, "readings": [_reading("/kept/a"), _reading("/brief/a")]}
    shape = Shape.of(INTERFACE)

    columns, rows = individual_columns([batch], lambda realm, name, major: shape)

    assert rows == 2
    assert columns[INDIVIDUAL_COLUMNS.index("ttl_seconds")] == [0, 3600]


def test_rows_of_unknown_interfaces_keep_forever() -> None:
    columns, _ = individual_columns([{"id_base": 0, "readings": [_reading("/brief/a")]}], lambda *key: None)

    assert columns[INDIVIDUAL_COLUMNS.index("ttl_seconds")] == [0]


def test_the_realm_maximum_retention_bounds_every_lifetime_and_applies_to_forever_ones() -> None:
    batch = {"id_base": 0, "readings": [_reading("/kept/a"), _reading("/brief/a"), _reading("/none")]}
    short_cap, long_cap = Shape.of(INTERFACE, 600), Shape.of(INTERFACE, 86_400)

    short, _ = individual_columns([batch], lambda *key: short_cap)
    long, _ = individual_columns([batch], lambda *key: long_cap)

    ttl = INDIVIDUAL_COLUMNS.index("ttl_seconds")
    assert short[ttl] == [600, 600, 600]
    assert long[ttl] == [86_400, 3600, 86_400]
