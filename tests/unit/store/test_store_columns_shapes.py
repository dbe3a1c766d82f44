"""Insert columns split by interface shape: properties to their table with unsets, typed object members."""

from __future__ import annotations

from typing import Any

from pipeline.store.columns import insert_columns
from pipeline.store.migrations import INDIVIDUAL_COLUMNS, PROPERTY_COLUMNS
from pipeline.store.shapes import Shape
from schemas.interface import parse_interface

SHAPES = {
    "org.acme.Props": Shape(properties=True, is_object=False),
    "org.acme.Obj": Shape(False, True, {"at": "datetime", "n": "integer", "ids": "longintegerarray"}),
    "org.acme.Plain": Shape(False, False),
}


def lookup(_realm: str, name: str, _major: int) -> Shape | None:
    return SHAPES.get(name)


def reading(interface: str, path: str, value_type: str, value: object) -> dict[str, Any]:
    return {
        "realm": "acme",
        "device_id": "d",
        "interface": interface,
        "major": 0,
        "path": path,
        "value_type": value_type,
        "value": value,
        "timestamp": 10,
        "reception_timestamp": 20,
    }


def rows(columns: list[list[Any]], names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def split(*readings: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    batch = {"batch_id": "b", "id_base": 100, "broker_id": "b", "produced_at": 0, "readings": list(readings)}
    columns = insert_columns([batch], lookup)
    individual = rows(columns.individual, INDIVIDUAL_COLUMNS)
    properties = rows(columns.properties, PROPERTY_COLUMNS)
    assert (columns.individual_rows, columns.property_rows) == (len(individual), len(properties))
    return individual, properties


def test_property_readings_go_to_the_properties_table_with_unsets_kept() -> None:
    individual, properties = split(
        reading("org.acme.Plain", "/a", "double", 1.0),
        reading("org.acme.Props", "/room/t", "double", 21.5),
        reading("org.acme.Props", "/room/t", "double", None),
        reading("org.acme.Props", "/room/n", "longinteger", None),
    )

    assert [(r["path"], r["reading_id"]) for r in individual] == [("/a", 100)]
    assert [(r["path"], r["unset"], r["double_value"], r["reading_id"]) for r in properties] == [
        ("/room/t", False, 21.5, 101),
        ("/room/t", True, 0.0, 102),
        ("/room/n", True, 0.0, 103),
    ]
    assert properties[2]["long_value"] == 0 and properties[2]["value_type"] == "longinteger"
    assert properties[0]["reception_timestamp"] == 20


def test_object_members_take_the_interfaces_mapping_types() -> None:
    individual, properties = split(
        reading("org.acme.Obj", "/s", "object", {"at": 1_000, "n": 3, "ids": [1], "extra": 2.5, "gone": None})
    )

    assert properties == []
    assert {r["path"]: r["value_type"] for r in individual} == {
        "/s/at": "datetime",  # a guess would say longinteger
        "/s/n": "integer",
        "/s/ids": "longintegerarray",
        "/s/extra": "double",  # not in the interface (yet): guessed
    }
    assert {r["reading_id"] for r in individual} == {100}


def test_a_root_object_has_one_slash_per_member() -> None:
    individual, _ = split(reading("org.acme.Obj", "/", "object", {"n": 1}))

    assert [r["path"] for r in individual] == ["/n"]


def test_unknown_interfaces_are_stored_as_individual_datastreams() -> None:
    individual, properties = split(reading("org.acme.Gone", "/x", "string", "s"))

    [row] = individual
    assert (row["value_type"], row["string_value"]) in {("string", "s"), ("string", b"s")}
    assert properties == []


def test_shape_of_an_interface() -> None:
    interface = parse_interface(
        {
            "interface_name": "org.acme.O",
            "version_major": 1,
            "version_minor": 0,
            "type": "datastream",
            "ownership": "device",
            "aggregation": "object",
            "mappings": [
                {"endpoint": "/%{s}/a", "type": "double"},
                {"endpoint": "/%{s}/b", "type": "binaryblob"},
            ],
        }
    )

    assert Shape.of(interface) == Shape(False, True, {"a": "double", "b": "binaryblob"})
