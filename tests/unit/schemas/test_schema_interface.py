"""Interface JSON rules of astarte.md §1: one row per rule, plus round-trips."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.errors import InterfaceError
from schemas.interface import (
    Aggregation,
    DatabaseRetentionPolicy,
    Interface,
    InterfaceType,
    MappingType,
    Ownership,
    Reliability,
    Retention,
    interface_names_collide,
    parse_interface,
)


def iface(mappings: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    """A valid datastream interface dict, with ``fields`` overriding the top level."""
    data: dict[str, Any] = {
        "interface_name": "org.example.Sensors",
        "version_major": 1,
        "version_minor": 0,
        "type": "datastream",
        "ownership": "device",
        "mappings": mappings or [{"endpoint": "/%{sensor_id}/value", "type": "double"}],
    }
    data.update(fields)
    return data


def props(mappings: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return iface(mappings, type="properties", **fields)


def obj(mappings: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return iface(mappings, aggregation="object", **fields)


def m(endpoint: str, type_: str = "double", **fields: Any) -> dict[str, Any]:
    return {"endpoint": endpoint, "type": type_, **fields}


def test_defaults_are_astarte_defaults() -> None:
    interface = parse_interface(iface())
    mapping = interface.mappings[0]
    assert (interface.name, interface.major, interface.minor) == ("org.example.Sensors", 1, 0)
    assert interface.aggregation is Aggregation.INDIVIDUAL
    assert interface.description is None and interface.doc is None
    assert mapping.type is MappingType.DOUBLE
    assert mapping.reliability is Reliability.UNRELIABLE
    assert mapping.retention is Retention.DISCARD
    assert mapping.expiry == 0
    assert mapping.database_retention_policy is DatabaseRetentionPolicy.NO_TTL
    assert mapping.database_retention_ttl is None
    assert (mapping.allow_unset, mapping.explicit_timestamp, mapping.required) == (False, False, False)


@pytest.mark.parametrize("form", [dict, json.dumps, lambda d: json.dumps(d).encode()])
def test_parse_accepts_dict_str_and_bytes(form: Any) -> None:
    assert parse_interface(form(iface())).name == "org.example.Sensors"


@pytest.mark.parametrize(
    ("legacy", "expected"),
    [
        ({"ownership": None, "quality": "producer"}, Ownership.DEVICE),
        ({"ownership": None, "quality": "consumer"}, Ownership.SERVER),
        ({"ownership": "producer"}, Ownership.DEVICE),
        ({"ownership": "consumer"}, Ownership.SERVER),
    ],
)
def test_legacy_quality_maps_to_ownership(legacy: dict[str, Any], expected: Ownership) -> None:
    data = iface(**legacy)
    if data["ownership"] is None:
        del data["ownership"]
    assert parse_interface(data).ownership is expected
    assert Ownership("producer") is Ownership.DEVICE


def test_legacy_aggregate_and_path() -> None:
    interface = parse_interface(iface([{"path": "/a/x", "type": "integer"}], aggregate=True))
    assert interface.aggregation is Aggregation.OBJECT
    assert interface.mappings[0].endpoint == "/a/x"


@pytest.mark.parametrize(
    ("type_", "reliability", "qos"),
    [
        ("datastream", "unreliable", 0),
        ("datastream", "guaranteed", 1),
        ("datastream", "unique", 2),
        ("properties", None, 2),
    ],
)
def test_qos(type_: str, reliability: str | None, qos: int) -> None:
    extra = {"reliability": reliability} if reliability else {}
    interface = parse_interface(iface([m("/a", **extra)], type=type_))
    assert interface.qos_for(interface.mappings[0]) == qos


ROUND_TRIP = [
    iface(),
    iface(description="d", doc="long doc", ownership="server"),
    props([m("/%{id}/enabled", "boolean", allow_unset=True), m("/%{id}/name", "string", doc="x")]),
    obj(
        [
            m("/%{s}/t", "doublearray", reliability="unique", explicit_timestamp=True, required=True),
            m("/%{s}/u", "datetime", reliability="unique", explicit_timestamp=True),
        ]
    ),
    iface([m("/v", "longinteger", database_retention_policy="use_ttl", database_retention_ttl=60)]),
    iface([m(f"/x{i}", t.value) for i, t in enumerate(MappingType)]),
]


@pytest.mark.parametrize("data", ROUND_TRIP)
def test_to_json_round_trip(data: dict[str, Any]) -> None:
    interface = parse_interface(data)
    canonical = interface.to_json()
    assert parse_interface(canonical) == interface
    assert parse_interface(json.dumps(canonical)) == interface
    assert canonical["aggregation"] == interface.aggregation.value


def test_models_are_frozen_and_hashable() -> None:
    interface = parse_interface(iface())
    with pytest.raises(ValueError, match="frozen"):
        interface.version_minor = 3  # type: ignore[misc]
    assert hash(interface) == hash(parse_interface(iface()))


# (interface dict, field named by the error, fragment of the message)
REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    ("name digit start", iface(interface_name="1abc"), "interface_name", "must match"),
    ("name empty part", iface(interface_name="org..Foo"), "interface_name", "must match"),
    ("name dash last part", iface(interface_name="org.ex.Fo-o"), "interface_name", "must match"),
    ("name dash first part", iface(interface_name="o-rg.ex.Foo"), "interface_name", "must match"),
    ("name underscore", iface(interface_name="org.ex.Fo_o"), "interface_name", "must match"),
    ("name trailing dot", iface(interface_name="org.ex."), "interface_name", "must match"),
    ("name too long", iface(interface_name="a" * 129), "interface_name", "128"),
    ("name reserved astarte", iface(interface_name="astarte"), "interface_name", "reserved"),
    ("name reserved control", iface(interface_name="control"), "interface_name", "reserved"),
    ("name reserved device", iface(interface_name="device"), "interface_name", "reserved"),
    ("name not string", iface(interface_name=5), "interface_name", "string"),
    ("version 0.0", iface(version_major=0, version_minor=0), "version_minor", "0.0"),
    ("major negative", iface(version_major=-1), "version_major", "greater than or equal to 0"),
    ("minor negative", iface(version_minor=-1), "version_minor", "greater than or equal to 0"),
    ("major string", iface(version_major="1"), "version_major", "integer"),
    ("major bool", iface(version_major=True), "version_major", "integer"),
    ("type unknown", iface(type="stream"), "type", "datastream"),
    ("type missing", {k: v for k, v in iface().items() if k != "type"}, "type", "required"),
    ("ownership unknown", iface(ownership="both"), "ownership", "device"),
    ("aggregation unknown", iface(aggregation="many"), "aggregation", "individual"),
    ("properties object", props([m("/a/b")], aggregation="object"), "aggregation", "individual"),
    ("description long", iface(description="x" * 1001), "description", "1000"),
    ("doc long", iface(doc="x" * 100_001), "doc", "100000"),
    ("no mappings", {**iface(), "mappings": []}, "mappings", "at least 1"),
    ("mappings missing", {k: v for k, v in iface().items() if k != "mappings"}, "mappings", "required"),
    ("too many mappings", iface([m(f"/m{i}") for i in range(1025)]), "mappings", "at most 1024"),
    # mapping fields
    ("endpoint missing", iface([{"type": "double"}]), "mappings[0].endpoint", "required"),
    ("type missing", iface([{"endpoint": "/a"}]), "mappings[0].type", "required"),
    ("type unknown", iface([m("/a", "float")]), "mappings[0].type", "double"),
    ("endpoint no slash", iface([m("ab")]), "mappings[0].endpoint", "must match"),
    ("endpoint root", iface([m("/")]), "mappings[0].endpoint", "at least 2"),
    ("endpoint trailing", iface([m("/a/")]), "mappings[0].endpoint", "must match"),
    ("endpoint double slash", iface([m("/a//b")]), "mappings[0].endpoint", "must match"),
    ("endpoint digit", iface([m("/1a")]), "mappings[0].endpoint", "must match"),
    ("endpoint dash", iface([m("/a-b")]), "mappings[0].endpoint", "must match"),
    ("endpoint space", iface([m("/a b")]), "mappings[0].endpoint", "must match"),
    ("endpoint bad placeholder", iface([m("/%{1x}")]), "mappings[0].endpoint", "must match"),
    ("endpoint open placeholder", iface([m("/%{x")]), "mappings[0].endpoint", "must match"),
    ("endpoint newline", iface([m("/a\n")]), "mappings[0].endpoint", "must match"),
    ("endpoint too long", iface([m("/" + "a" * 256)]), "mappings[0].endpoint", "256"),
    ("endpoint 65 levels", iface([m("/a" * 65)]), "mappings[0].endpoint", "must match"),
    ("placeholder repeated", iface([m("/%{a}/%{a}")]), "mappings[0].endpoint", "repeats"),
    ("expiry negative", iface([m("/a", expiry=-1)]), "mappings[0].expiry", "greater than"),
    ("reliability unknown", iface([m("/a", reliability="maybe")]), "mappings[0].reliability", "unique"),
    ("retention unknown", iface([m("/a", retention="forever")]), "mappings[0].retention", "stored"),
    ("allow_unset string", props([m("/a", allow_unset="yes")]), "mappings[0].allow_unset", "boolean"),
    ("mapping description", iface([m("/a", description="x" * 1001)]), "mappings[0].description", "1000"),
    ("mapping doc", iface([m("/a", doc="x" * 100_001)]), "mappings[0].doc", "100000"),
    # TTL
    (
        "ttl below 60",
        iface([m("/a", database_retention_policy="use_ttl", database_retention_ttl=59)]),
        "mappings[0].database_retention_ttl",
        "60",
    ),
    (
        "ttl at 20 years",
        iface([m("/a", database_retention_policy="use_ttl", database_retention_ttl=630720000)]),
        "mappings[0].database_retention_ttl",
        "630720000",
    ),
    (
        "use_ttl without ttl",
        iface([m("/a", database_retention_policy="use_ttl")]),
        "mappings[0].database_retention_ttl",
        "must be set",
    ),
    (
        "ttl without use_ttl",
        iface([m("/a", database_retention_ttl=120)]),
        "mappings[0].database_retention_policy",
        "must be use_ttl",
    ),
    # datastream-only fields on properties, and the reverse
    (
        "props reliability",
        props([m("/a", reliability="guaranteed")]),
        "mappings[0].reliability",
        "datastream",
    ),
    ("props retention", props([m("/a", retention="stored")]), "mappings[0].retention", "datastream"),
    ("props expiry", props([m("/a", expiry=10)]), "mappings[0].expiry", "datastream"),
    (
        "props policy",
        props([m("/a", database_retention_policy="use_ttl", database_retention_ttl=60)]),
        "mappings[0].database_retention_policy",
        "datastream",
    ),
    (
        "props ttl",
        props([m("/a", database_retention_ttl=60)]),
        "mappings[0].database_retention_ttl",
        "datastream",
    ),
    (
        "props explicit_timestamp",
        props([m("/a", explicit_timestamp=True)]),
        "mappings[0].explicit_timestamp",
        "datastream",
    ),
    ("datastream allow_unset", iface([m("/a", allow_unset=True)]), "mappings[0].allow_unset", "properties"),
    ("required on individual", iface([m("/a", required=True)]), "mappings[0].required", "object"),
    # clashes and ambiguity
    ("case clash", iface([m("/a"), m("/A")]), "mappings[1].endpoint", "conflicts"),
    ("placeholder clash", iface([m("/%{x}/v"), m("/%{y}/v")]), "mappings[1].endpoint", "conflicts"),
    (
        "placeholder-only clash",
        iface([m("/%{x}/%{y}"), m("/%{z}/%{w}")]),
        "mappings[1].endpoint",
        "conflicts",
    ),
    ("ambiguous", iface([m("/%{p}/value"), m("/myPath/value")]), "mappings[1].endpoint", "ambiguous"),
    ("ambiguous deep", iface([m("/a/%{x}/c"), m("/%{y}/b/c")]), "mappings[1].endpoint", "ambiguous"),
    ("prefix literal", iface([m("/a"), m("/a/b")]), "mappings[1].endpoint", "prefix"),
    ("prefix placeholder", iface([m("/a/b"), m("/%{x}")]), "mappings[1].endpoint", "prefix"),
    # object aggregation
    (
        "object reliability",
        obj([m("/s/a"), m("/s/b", reliability="unique")]),
        "mappings[1].reliability",
        "share",
    ),
    ("object retention", obj([m("/s/a"), m("/s/b", retention="stored")]), "mappings[1].retention", "share"),
    ("object expiry", obj([m("/s/a"), m("/s/b", expiry=5)]), "mappings[1].expiry", "share"),
    (
        "object timestamp",
        obj([m("/s/a", explicit_timestamp=True), m("/s/b")]),
        "mappings[1].explicit_timestamp",
        "share",
    ),
    (
        "object ttl",
        obj(
            [
                m("/s/a", database_retention_policy="use_ttl", database_retention_ttl=60),
                m("/s/b", database_retention_policy="use_ttl", database_retention_ttl=61),
            ]
        ),
        "mappings[1].database_retention_ttl",
        "share",
    ),
    ("object prefix", obj([m("/s/a"), m("/t/b")]), "mappings[1].endpoint", "prefix"),
    ("object depth", obj([m("/s/a"), m("/s/x/b")]), "mappings[1].endpoint", "prefix"),
    ("object placeholder name", obj([m("/%{s}/a"), m("/%{t}/b")]), "mappings[1].endpoint", "prefix"),
    ("object placeholder key", obj([m("/s/%{k}")]), "mappings[0].endpoint", "placeholder"),
    ("object key clash", obj([m("/s/a"), m("/s/A")]), "mappings[1].endpoint", "conflicts"),
]


@pytest.mark.parametrize(("data", "field", "fragment"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_refused(data: dict[str, Any], field: str, fragment: str) -> None:
    with pytest.raises(InterfaceError) as caught:
        parse_interface(data)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert fragment in str(caught.value)


ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("name one token", iface(interface_name="Sensors")),
    ("name with dashes", iface(interface_name="com.my-company.x-1.Sensors")),
    ("name 128", iface(interface_name="a" * 128)),
    ("name reserved case differs", iface(interface_name="Astarte")),
    ("version 0.1", iface(version_major=0, version_minor=1)),
    ("ttl 60", iface([m("/a", database_retention_policy="use_ttl", database_retention_ttl=60)])),
    ("ttl max", iface([m("/a", database_retention_policy="use_ttl", database_retention_ttl=630719999)])),
    (
        "props default datastream fields",
        props(
            [
                m(
                    "/a",
                    reliability="unreliable",
                    retention="discard",
                    expiry=0,
                    explicit_timestamp=False,
                    database_retention_policy="no_ttl",
                )
            ]
        ),
    ),
    ("datastream allow_unset false", iface([m("/a", allow_unset=False)])),
    ("1024 mappings", iface([m(f"/m{i}") for i in range(1024)])),
    ("64 levels", iface([m("/a" * 64)])),
    ("endpoint 256", iface([m("/" + "a" * 255)])),
    ("siblings literal and placeholder", iface([m("/a/x"), m("/%{p}/y")])),
    ("placeholder names differ by endpoint", iface([m("/%{a}/x"), m("/%{b}/y")])),
    ("object one level", obj([m("/a"), m("/b", "string")])),
    ("object with placeholders", obj([m("/%{s}/%{t}/a"), m("/%{s}/%{t}/b")])),
    ("object required", obj([m("/s/a", required=True), m("/s/b")])),
    ("unknown fields ignored", iface(extra_field=1)),
    ("description 1000", iface(description="x" * 1000)),
]


@pytest.mark.parametrize("data", [r[1] for r in ACCEPTED], ids=[r[0] for r in ACCEPTED])
def test_accepted(data: dict[str, Any]) -> None:
    interface = parse_interface(data)
    assert isinstance(interface, Interface)
    assert parse_interface(interface.to_json()) == interface


@pytest.mark.parametrize("data", ["not json", b"\xff\xfe", "[1, 2]", "null", 42, None, [iface()]])
def test_non_object_input_is_an_interface_error(data: object) -> None:
    with pytest.raises(InterfaceError, match="interface"):
        parse_interface(data)


def test_direct_construction_runs_the_cross_rules() -> None:
    with pytest.raises(InterfaceError, match="conflicts"):
        Interface.model_validate(iface([m("/a"), m("/A")]))


@pytest.mark.parametrize(
    ("a", "b", "collide"),
    [
        ("org.example.Foo", "org.example.Foo", True),
        ("org.example.Foo", "org.Example.foo", True),
        ("org.ex-ample.Foo", "org.example.Foo", True),
        ("org.exam-ple.Foo", "org.ex-ample.FOO", True),
        ("org.example.Foo", "org.example.Bar", False),
        ("org.example.Foo", "org.example.Foo2", False),
        ("org.example.Foo", "orgexample.Foo", False),
    ],
)
def test_interface_names_collide(a: str, b: str, collide: bool) -> None:
    assert interface_names_collide(a, b) is collide
    assert interface_names_collide(b, a) is collide


def test_enum_values() -> None:
    assert [t.value for t in InterfaceType] == ["datastream", "properties"]
    assert [o.value for o in Ownership] == ["device", "server"]
    assert [a.value for a in Aggregation] == ["individual", "object"]
    assert len(MappingType) == 14
    assert MappingType.DATETIMEARRAY.element is MappingType.DATETIME
    assert MappingType.STRING.element is MappingType.STRING
    assert MappingType.BINARYBLOBARRAY.is_array and not MappingType.BINARYBLOB.is_array
