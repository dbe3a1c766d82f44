"""Trigger JSON: Astarte's simple-trigger form, the and/or condition form, HTTP actions, interface checks."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.interface import Interface, parse_interface
from schemas.trigger_conditions import DataTriggerOn, DeviceTriggerOn, Operator
from schemas.triggers import Trigger, TriggerError, parse_trigger, validate_against

DEVICE = "f0VMRgIBAQAAAAAAAAAAAA"
ACTION = {"http_url": "https://hooks.example.com/in", "http_method": "post"}

SENSORS = parse_interface(
    {
        "interface_name": "org.example.Sensors",
        "version_major": 1,
        "version_minor": 0,
        "type": "datastream",
        "ownership": "device",
        "mappings": [
            {"endpoint": "/%{sensor_id}/value", "type": "double"},
            {"endpoint": "/%{sensor_id}/count", "type": "integer"},
            {"endpoint": "/%{sensor_id}/total", "type": "longinteger"},
            {"endpoint": "/%{sensor_id}/on", "type": "boolean"},
            {"endpoint": "/%{sensor_id}/name", "type": "string"},
            {"endpoint": "/%{sensor_id}/blob", "type": "binaryblob"},
            {"endpoint": "/%{sensor_id}/at", "type": "datetime"},
            {"endpoint": "/%{sensor_id}/samples", "type": "doublearray"},
            {"endpoint": "/%{sensor_id}/flags", "type": "booleanarray"},
        ],
    }
)
OBJECT = parse_interface(
    {
        "interface_name": "org.example.Obj",
        "version_major": 0,
        "version_minor": 1,
        "type": "datastream",
        "ownership": "device",
        "aggregation": "object",
        "mappings": [{"endpoint": "/%{id}/a", "type": "double"}, {"endpoint": "/%{id}/b", "type": "string"}],
    }
)


def data(**fields: Any) -> dict[str, Any]:
    leaf: dict[str, Any] = {
        "type": "data_trigger",
        "on": "incoming_data",
        "interface_name": "org.example.Sensors",
        "interface_major": 1,
        "match_path": "/*",
        "value_match_operator": "*",
    }
    leaf.update(fields)
    return {k: v for k, v in leaf.items() if v is not None}


def simple(leaf: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"name": "t1", "action": dict(ACTION), "simple_triggers": [leaf], **top}


def error_of(doc: object) -> TriggerError:
    with pytest.raises(TriggerError) as info:
        parse_trigger(doc)
    return info.value


# --- the simple form, exactly Astarte's -------------------------------------------------------------


@pytest.mark.parametrize("on", [o.value for o in DataTriggerOn])
def test_every_data_on_kind_parses_and_round_trips(on: str) -> None:
    trigger = parse_trigger(simple(data(on=on)))
    assert trigger.event_type == on
    assert parse_trigger(trigger.to_json()) == trigger
    assert trigger.to_json()["simple_triggers"][0]["on"] == on


@pytest.mark.parametrize("on", [o.value for o in DeviceTriggerOn])
def test_every_device_on_kind_parses_and_round_trips(on: str) -> None:
    trigger = parse_trigger(simple({"type": "device_trigger", "on": on, "device_id": "*"}))
    assert trigger.is_device_trigger and trigger.event_type == on
    assert parse_trigger(json.dumps(trigger.to_json())) == trigger


@pytest.mark.parametrize("op", [o.value for o in Operator if o is not Operator.ANY], ids=lambda o: f"op{o}")
def test_every_operator_parses_with_known_value(op: str) -> None:
    trigger = parse_trigger(simple(data(match_path="/s1/name", value_match_operator=op, known_value="x")))
    assert trigger.to_json()["simple_triggers"][0] == data(
        match_path="/s1/name", value_match_operator=op, known_value="x"
    )


def test_astarte_document_round_trips_exactly() -> None:
    doc = {
        "name": "hot",
        "action": {
            "http_url": "https://hooks.example.com/in",
            "http_method": "put",
            "http_static_headers": {"Authorization": "Bearer x"},
            "ignore_ssl_errors": True,
            "template": "{{device_id}} {{value}}",
            "template_type": "mustache",
        },
        "simple_triggers": [
            data(
                match_path="/%{sensor_id}/value",
                value_match_operator=">=",
                known_value=30.5,
                group_name="plant",
            )
        ],
        "policy": "retry3",
    }
    assert parse_trigger(doc).to_json() == doc


def test_legacy_http_post_url_is_post() -> None:
    trigger = parse_trigger(
        {"name": "t", "action": {"http_post_url": "http://h/x"}, "simple_triggers": [data()]}
    )
    assert trigger.action.to_json() == {
        "http_url": "http://h/x",
        "http_method": "post",
        "ignore_ssl_errors": False,
    }


def test_any_interface_and_scopes() -> None:
    trigger = parse_trigger(simple(data(interface_name="*", interface_major=None, device_id=DEVICE)))
    leaf = trigger.data_leaves()[0]
    assert leaf.target == ("*", None, "/*", DEVICE, None)


BAD_SIMPLE: list[tuple[str, dict[str, Any], str]] = [
    ("no name", {"action": ACTION, "simple_triggers": [data()]}, "name"),
    ("no action", {"name": "t", "simple_triggers": [data()]}, "action"),
    ("unknown top field", simple(data(), extra=1), "extra"),
    ("empty list", {"name": "t", "action": ACTION, "simple_triggers": []}, "simple_triggers"),
    (
        "two simple triggers",
        {"name": "t", "action": ACTION, "simple_triggers": [data(), data()]},
        "simple_triggers",
    ),
    ("neither form", {"name": "t", "action": ACTION}, "simple_triggers"),
    ("both forms", {**simple(data()), "condition": data()}, "simple_triggers"),
    ("name with slash", {**simple(data()), "name": "a/b"}, "name"),
    ("name too long", {**simple(data()), "name": "x" * 129}, "name"),
    ("unknown type", simple({"type": "amqp_trigger", "on": "x"}), "simple_triggers[0].type"),
    ("bad data on", simple(data(on="device_connected")), "simple_triggers[0].on"),
    ("bad device on", simple({"type": "device_trigger", "on": "incoming_data"}), "simple_triggers[0].on"),
    (
        "bad operator",
        simple(data(match_path="/a/value", value_match_operator="=~", known_value=1)),
        "simple_triggers[0].value_match_operator",
    ),
    ("unknown leaf field", simple(data(foo=1)), "simple_triggers[0].foo"),
    ("bad interface name", simple(data(interface_name="1bad")), "simple_triggers[0].interface_name"),
    ("missing major", simple(data(interface_major=None)), "simple_triggers[0]"),
    ("negative major", simple(data(interface_major=-1)), "simple_triggers[0].interface_major"),
    ("bad path", simple(data(match_path="/a/")), "simple_triggers[0].match_path"),
    ("path with +", simple(data(match_path="/a/+")), "simple_triggers[0].match_path"),
    ("any interface with a path", simple(data(interface_name="*", match_path="/a")), "simple_triggers[0]"),
    (
        "operator without known_value",
        simple(data(match_path="/a/value", value_match_operator=">")),
        "simple_triggers[0]",
    ),
    ("known_value with *", simple(data(match_path="/a/value", known_value=1)), "simple_triggers[0]"),
    ("operator on /*", simple(data(value_match_operator="==", known_value=1)), "simple_triggers[0]"),
    (
        "operator on path_removed",
        simple(data(on="path_removed", match_path="/a/value", value_match_operator="==", known_value=1)),
        "simple_triggers[0]",
    ),
    ("device_id and group", simple(data(device_id=DEVICE, group_name="g")), "simple_triggers[0]"),
    (
        "bad device_id",
        simple({"type": "device_trigger", "on": "device_connected", "device_id": "nope"}),
        "simple_triggers[0]",
    ),
    (
        "group starting ~",
        simple({"type": "device_trigger", "on": "device_connected", "group_name": "~g"}),
        "simple_triggers[0]",
    ),
    ("leaf not an object", {"name": "t", "action": ACTION, "simple_triggers": ["x"]}, "simple_triggers[0]"),
    ("policy not a string", simple(data(), policy=3), "policy"),
]


@pytest.mark.parametrize(("case", "doc", "field"), BAD_SIMPLE, ids=[c[0] for c in BAD_SIMPLE])
def test_simple_trigger_rules(case: str, doc: dict[str, Any], field: str) -> None:
    error = error_of(doc)
    assert error.field == field, case
    assert str(error).startswith(f"{field}: ")


def test_not_json_and_not_object() -> None:
    assert "not valid JSON" in str(error_of("{"))
    assert "JSON object" in str(error_of([1]))


# --- HTTP action -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["delete", "get", "head", "options", "patch", "post", "put"])
def test_every_http_method(method: str) -> None:
    trigger = parse_trigger(simple(data()) | {"action": {"http_url": "http://h", "http_method": method}})
    assert trigger.action.http_method.value == method


FORBIDDEN = ["Connection", "keep-alive", "Proxy-Authorization", "proxy-x", "TE", "Trailer",
             "Transfer-Encoding", "Upgrade", "Host", "content-length"]  # fmt: skip


@pytest.mark.parametrize("header", FORBIDDEN)
def test_hop_by_hop_and_host_headers_are_refused(header: str) -> None:
    error = error_of(simple(data()) | {"action": {**ACTION, "http_static_headers": {header: "v"}}})
    assert error.field == "action.http_static_headers"
    assert header in str(error)


BAD_ACTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("no url", {"http_method": "post"}, "action.http_url"),
    ("no method", {"http_url": "http://h"}, "action.http_method"),
    ("bad method", {"http_url": "http://h", "http_method": "trace"}, "action.http_method"),
    ("upper-case method", {"http_url": "http://h", "http_method": "POST"}, "action.http_method"),
    ("ftp url", {"http_url": "ftp://h/x", "http_method": "post"}, "action.http_url"),
    ("relative url", {"http_url": "/x", "http_method": "post"}, "action.http_url"),
    ("both urls", {"http_url": "http://h", "http_post_url": "http://h"}, "action"),
    ("legacy with get", {"http_post_url": "http://h", "http_method": "get"}, "action"),
    (
        "headers too big",
        {**ACTION, "http_static_headers": {"X-Big": "v" * 8190}},
        "action.http_static_headers",
    ),
    (
        "header name not a token",
        {**ACTION, "http_static_headers": {"X Y": "v"}},
        "action.http_static_headers",
    ),
    (
        "header value newline",
        {**ACTION, "http_static_headers": {"X": "a\r\nb"}},
        "action.http_static_headers",
    ),
    ("template without type", {**ACTION, "template": "x"}, "action"),
    ("type without template", {**ACTION, "template_type": "mustache"}, "action"),
    ("unknown template type", {**ACTION, "template": "x", "template_type": "jinja"}, "action.template_type"),
    ("amqp action", {"amqp_exchange": "x"}, "action.http_url"),
    ("unknown action key", {**ACTION, "retries": 3}, "action.retries"),
    ("ignore_ssl not bool", {**ACTION, "ignore_ssl_errors": "yes"}, "action.ignore_ssl_errors"),
]


@pytest.mark.parametrize(("case", "action", "field"), BAD_ACTIONS, ids=[c[0] for c in BAD_ACTIONS])
def test_http_action_rules(case: str, action: dict[str, Any], field: str) -> None:
    assert error_of(simple(data()) | {"action": action}).field == field, case


def test_headers_at_the_size_limit_pass() -> None:
    headers = {"X-Big": "v" * (8192 - len("X-Big"))}
    assert parse_trigger(simple(data()) | {"action": {**ACTION, "http_static_headers": headers}})


# --- condition form (beyond Astarte) ------------------------------------------------------------------


def cond(node: object) -> dict[str, Any]:
    return {"name": "c", "action": dict(ACTION), "condition": node}


GT = data(match_path="/%{sensor_id}/value", value_match_operator=">", known_value=10)
LT = data(match_path="/%{sensor_id}/value", value_match_operator="<", known_value=20)
OTHER = data(match_path="/s9/count", value_match_operator="==", known_value=3)


def test_condition_round_trips_and_lists_leaves() -> None:
    doc = cond({"or": [{"and": [GT, LT]}, OTHER]})
    trigger = parse_trigger(doc)
    assert trigger.to_json() == doc | {"action": {**ACTION, "ignore_ssl_errors": False}}
    assert parse_trigger(trigger.to_json()) == trigger
    assert [leaf.match_path for leaf in trigger.data_leaves()] == ["/%{sensor_id}/value"] * 2 + ["/s9/count"]
    assert trigger.event_type == "incoming_data"


def test_a_lone_leaf_condition_is_an_and_of_one() -> None:
    trigger = parse_trigger(cond(GT))
    assert trigger.condition is not None and trigger.condition.op == "and"


BAD_CONDITIONS: list[tuple[str, object, str]] = [
    ("and across paths", {"and": [GT, OTHER]}, "condition.and"),
    ("nested and across paths", {"or": [{"and": [GT, {"or": [LT, OTHER]}]}]}, "condition.or[0].and"),
    ("mixed on", {"or": [GT, {**OTHER, "on": "value_change"}]}, "condition"),
    ("empty or", {"or": []}, "condition.or"),
    ("or not a list", {"or": GT}, "condition.or"),
    ("device leaf", {"or": [{"type": "device_trigger", "on": "device_connected"}]}, "condition.or[0].type"),
    ("bad leaf", {"or": [GT, {**LT, "match_path": "x"}]}, "condition.or[1].match_path"),
    (
        "too deep",
        {"or": [{"or": [{"or": [{"or": [{"or": [GT]}]}]}]}]},
        "condition.or[0].or[0].or[0].or[0].or",
    ),
    ("too many leaves", {"or": [GT] * 65}, "condition"),
    ("unknown key", {"xor": [GT]}, "condition"),
    ("not an object", {"or": [GT, 3]}, "condition.or[1]"),
]


@pytest.mark.parametrize(("case", "node", "field"), BAD_CONDITIONS, ids=[c[0] for c in BAD_CONDITIONS])
def test_condition_rules(case: str, node: object, field: str) -> None:
    assert error_of(cond(node)).field == field, case


# --- validate_against: paths and known_value typed as the mapping ------------------------------------


def check(leaf: dict[str, Any], interface: Interface = SENSORS) -> None:
    validate_against(parse_trigger(simple(leaf)), interface)


GOOD_TYPED: list[tuple[str, str, object]] = [
    ("/s1/value", ">", 3),
    ("/s1/value", "<=", 2.5),
    ("/%{sensor_id}/count", "==", 7),
    ("/s1/total", ">", "9223372036854775807"),
    ("/s1/on", "==", True),
    ("/s1/on", "!=", False),
    ("/s1/name", "contains", "abc"),
    ("/s1/name", "<", "m"),
    ("/s1/blob", "contains", "AQI="),
    ("/s1/blob", "==", "AQI="),
    ("/s1/at", ">=", "2024-01-01T00:00:00Z"),
    ("/s1/samples", "contains", 1.5),
    ("/s1/samples", "==", [1.0, 2.0]),
    ("/s1/flags", "not_contains", True),
]


@pytest.mark.parametrize(("path", "op", "known"), GOOD_TYPED)
def test_known_value_typed_as_the_mapping(path: str, op: str, known: object) -> None:
    check(data(match_path=path, value_match_operator=op, known_value=known))


BAD_TYPED: list[tuple[str, str, object, str]] = [
    ("/s1/value", ">", "hot", "known_value"),
    ("/s1/count", "==", 2**31, "known_value"),
    ("/s1/count", "==", 1.5, "known_value"),
    ("/s1/on", "==", 1, "known_value"),
    ("/s1/on", ">", True, "value_match_operator"),
    ("/s1/value", "contains", 1.0, "value_match_operator"),
    ("/s1/count", "not_contains", 1, "value_match_operator"),
    ("/s1/blob", "contains", "not base64!", "known_value"),
    ("/s1/blob", ">", "AQI=", "value_match_operator"),
    ("/s1/at", "==", "yesterday", "known_value"),
    ("/s1/samples", "contains", "x", "known_value"),
    ("/s1/samples", "==", 1.0, "known_value"),
    ("/s1/samples", ">", [1.0], "value_match_operator"),
    ("/s1/unknown", "==", 1, "match_path"),
    ("/s1/value/x", "==", 1.0, "match_path"),
]


@pytest.mark.parametrize(("path", "op", "known", "field"), BAD_TYPED)
def test_known_value_and_operator_refused_by_the_mapping(
    path: str, op: str, known: object, field: str
) -> None:
    with pytest.raises(TriggerError) as info:
        check(data(match_path=path, value_match_operator=op, known_value=known))
    assert info.value.field == f"simple_triggers[0].{field}"


def test_parametric_match_path_is_checked_against_endpoints() -> None:
    check(data(match_path="/%{any_name}/value"))
    with pytest.raises(TriggerError):
        check(data(match_path="/%{x}/%{y}"))


def test_object_interface_paths_and_operators() -> None:
    leaf = data(interface_name="org.example.Obj", interface_major=0, match_path="/dev1")
    check(leaf, OBJECT)
    with pytest.raises(TriggerError, match="object"):
        check({**leaf, "value_match_operator": "==", "known_value": 1}, OBJECT)


def test_validate_against_skips_other_interfaces_and_majors() -> None:
    trigger = parse_trigger(simple(data(interface_major=2, match_path="/nowhere")))
    validate_against(trigger, SENSORS)  # names major 2: nothing of SENSORS v1 to check
    with pytest.raises(TriggerError, match=r"condition leaf 1\.match_path"):
        validate_against(parse_trigger(cond({"or": [GT, {**GT, "match_path": "/x"}]})), SENSORS)


def test_models_are_frozen_and_to_json_does_not_alias() -> None:
    trigger: Trigger = parse_trigger(simple(data(), policy="p"))
    out = trigger.to_json()
    snapshot = copy.deepcopy(out)
    out["simple_triggers"][0]["on"] = "value_change"
    assert trigger.to_json() == snapshot
    with pytest.raises(ValidationError, match="frozen"):
        trigger.name = "x"  # type: ignore[misc]
