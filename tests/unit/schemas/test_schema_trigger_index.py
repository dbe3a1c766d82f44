"""TriggerIndex: on-kind semantics per phase, every operator on typed values, scopes, paths, removal."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.interface import parse_interface
from schemas.trigger_conditions import DeviceTriggerOn
from schemas.trigger_index import ReadingPhase, TriggerIndex, phase_of
from schemas.triggers import Trigger, TriggerError, parse_trigger

DEV = "f0VMRgIBAQAAAAAAAAAAAA"
OTHER_DEV = "AAAAAAAAAAAAAAAAAAAAAA"
IFACE = "org.example.Sensors"
ACTION = {"http_url": "http://127.0.0.1/h", "http_method": "post"}

SENSORS = parse_interface(
    {
        "interface_name": IFACE,
        "version_major": 1,
        "version_minor": 0,
        "type": "properties",
        "ownership": "device",
        "mappings": [
            {"endpoint": f"/%{{id}}/{name}", "type": kind, "allow_unset": True}
            for name, kind in [
                ("value", "double"),
                ("count", "integer"),
                ("total", "longinteger"),
                ("on", "boolean"),
                ("name", "string"),
                ("blob", "binaryblob"),
                ("at", "datetime"),
                ("samples", "doublearray"),
                ("names", "stringarray"),
            ]
        ],
    }
)


def leaf(**fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "data_trigger",
        "on": "incoming_data",
        "interface_name": IFACE,
        "interface_major": 1,
        "match_path": "/*",
        "value_match_operator": "*",
    }
    out.update(fields)
    return {k: v for k, v in out.items() if v is not None}


def trig(name: str, simple: dict[str, Any] | None = None, condition: object = None) -> Trigger:
    doc: dict[str, Any] = {"name": name, "action": ACTION}
    if condition is not None:
        doc["condition"] = condition
    else:
        doc["simple_triggers"] = [simple or leaf()]
    return parse_trigger(doc)


def index_of(*triggers: Trigger, realm: str = "r") -> TriggerIndex:
    index = TriggerIndex()
    for t in triggers:
        index.add(realm, t, [SENSORS])
    return index


def fired(
    index: TriggerIndex,
    path: str = "/s1/value",
    value: object = 1.0,
    previous: object = None,
    phase: str = "incoming",
    *,
    realm: str = "r",
    device: str = DEV,
    groups: tuple[str, ...] = (),
    interface: str = IFACE,
    major: int = 1,
) -> list[str]:
    hits = index.matches_for_reading(realm, device, groups, interface, major, path, value, previous, phase)
    return [t.name for t in hits]


# --- on kinds: (on, phase, value, previous) -> fires? ------------------------------------------------

ON_TABLE: list[tuple[str, str, object, object, bool]] = [
    ("incoming_data", "incoming", 1.0, None, True),
    ("incoming_data", "incoming", 1.0, 1.0, True),
    ("incoming_data", "incoming", None, 1.0, True),
    ("incoming_data", "stored", 1.0, None, False),
    ("value_stored", "stored", 1.0, 1.0, True),
    ("value_stored", "incoming", 1.0, None, False),
    ("value_change", "incoming", 2.0, 1.0, True),
    ("value_change", "incoming", 1.0, 1.0, False),
    ("value_change", "incoming", 1.0, None, True),
    ("value_change", "incoming", None, 1.0, True),
    ("value_change", "incoming", None, None, False),
    ("value_change", "stored", 2.0, 1.0, False),
    ("value_change_applied", "stored", 2.0, 1.0, True),
    ("value_change_applied", "stored", 2.0, 2.0, False),
    ("value_change_applied", "incoming", 2.0, 1.0, False),
    ("path_created", "stored", 1.0, None, True),
    ("path_created", "stored", 1.0, 0.5, False),
    ("path_created", "stored", None, None, False),
    ("path_created", "incoming", 1.0, None, False),
    ("path_removed", "stored", None, 1.0, True),
    ("path_removed", "stored", 1.0, 1.0, False),
    ("path_removed", "incoming", None, 1.0, False),
]


@pytest.mark.parametrize(("on", "phase", "value", "previous", "fires"), ON_TABLE)
def test_on_kind_semantics(on: str, phase: str, value: object, previous: object, fires: bool) -> None:
    index = index_of(trig("t", leaf(on=on, match_path="/s1/value")))
    assert fired(index, value=value, previous=previous, phase=phase) == (["t"] if fires else [])
    assert phase_of(index.get("r", "t").data_leaves()[0].on).value in {"incoming", "stored"}  # type: ignore[union-attr]


def test_value_change_compares_types_not_just_equality() -> None:
    index = index_of(trig("t", leaf(on="value_change", match_path="/s1/count")))
    assert fired(index, "/s1/count", True, 1) == ["t"]  # bool True == 1 in Python, not a same value


# --- operators on typed values: (path, op, known, reading value) -> fires? ---------------------------

OPERATOR_TABLE: list[tuple[str, str, object, object, bool]] = [
    ("/s1/value", "==", 3, 3.0, True),
    ("/s1/value", "==", 3, 3.5, False),
    ("/s1/value", "!=", 3, 3.5, True),
    ("/s1/value", "!=", 3, 3.0, False),
    ("/s1/value", ">", 30, 30.5, True),
    ("/s1/value", ">", 30, 30.0, False),
    ("/s1/value", ">=", 30, 30.0, True),
    ("/s1/value", ">=", 30, 29.9, False),
    ("/s1/value", "<", 0, -0.1, True),
    ("/s1/value", "<", 0, 0.0, False),
    ("/s1/value", "<=", 0, 0.0, True),
    ("/s1/value", "<=", 0, 0.1, False),
    ("/s1/count", ">", 5, 6, True),
    ("/s1/count", ">", 5, 5, False),
    ("/s1/total", ">=", "9007199254740993", 9007199254740993, True),
    ("/s1/total", ">=", "9007199254740993", 9007199254740992, False),
    ("/s1/on", "==", True, True, True),
    ("/s1/on", "==", True, False, False),
    ("/s1/on", "!=", True, False, True),
    ("/s1/name", "==", "abc", "abc", True),
    ("/s1/name", "<", "b", "a", True),
    ("/s1/name", "<", "b", "c", False),
    ("/s1/name", "contains", "arm", "alarm", True),
    ("/s1/name", "contains", "arm", "ok", False),
    ("/s1/name", "not_contains", "arm", "ok", True),
    ("/s1/name", "not_contains", "arm", "alarm", False),
    ("/s1/blob", "contains", "AgM=", b"\x01\x02\x03", True),
    ("/s1/blob", "contains", "AgM=", b"\x03\x02", False),
    ("/s1/blob", "==", "AQID", b"\x01\x02\x03", True),
    ("/s1/blob", "not_contains", "AgM=", b"\x03\x02", True),
    ("/s1/at", ">", "2024-01-01T00:00:00Z", 1_704_067_200_000_001, True),
    ("/s1/at", ">", "2024-01-01T00:00:00Z", 1_704_067_200_000_000, False),
    ("/s1/at", "==", "2024-01-01T00:00:00.000Z", 1_704_067_200_000_000, True),
    ("/s1/samples", "contains", 2, [1.0, 2.0], True),
    ("/s1/samples", "contains", 2, [1.0, 3.0], False),
    ("/s1/samples", "not_contains", 2, [1.0, 3.0], True),
    ("/s1/samples", "==", [1, 2], [1.0, 2.0], True),
    ("/s1/samples", "!=", [1, 2], [2.0, 1.0], True),
    ("/s1/names", "contains", "x", ["y", "x"], True),
    ("/s1/names", "not_contains", "x", ["y", "x"], False),
]


@pytest.mark.parametrize(("path", "op", "known", "value", "fires"), OPERATOR_TABLE)
def test_operator_on_typed_values(path: str, op: str, known: object, value: object, fires: bool) -> None:
    index = index_of(trig("t", leaf(match_path=path, value_match_operator=op, known_value=known)))
    assert fired(index, path, value) == (["t"] if fires else [])


@pytest.mark.parametrize("op", ["==", "!=", ">", "contains", "not_contains"])
def test_an_unset_value_matches_no_operator(op: str) -> None:
    known: object = "x" if "contains" in op else 1.0
    path = "/s1/name" if "contains" in op else "/s1/value"
    index = index_of(trig("t", leaf(match_path=path, value_match_operator=op, known_value=known)))
    assert fired(index, path, None) == []


def test_star_operator_matches_unset() -> None:
    assert fired(index_of(trig("t", leaf(match_path="/s1/value"))), value=None) == ["t"]


# --- targets: interface, major, path, device scope, realm --------------------------------------------


def test_paths_interfaces_majors_and_realms() -> None:
    index = index_of(
        trig("all", leaf()),
        trig("exact", leaf(match_path="/s1/value")),
        trig("param", leaf(match_path="/%{id}/value")),
        trig("other_path", leaf(match_path="/s2/value")),
        trig("major2", leaf(interface_major=2)),
        trig("any_iface", leaf(interface_name="*", interface_major=None)),
    )
    assert fired(index) == ["all", "exact", "param", "any_iface"]
    assert fired(index, "/s2/value") == ["all", "param", "other_path", "any_iface"]
    assert fired(index, "/s2/count", 1) == ["all", "any_iface"]
    assert fired(index, major=2) == ["major2", "any_iface"]
    assert fired(index, interface="org.example.Other") == ["any_iface"]
    assert fired(index, realm="other") == []


def test_parametric_paths_need_a_non_empty_token_and_the_right_length() -> None:
    index = index_of(trig("p", leaf(match_path="/%{id}/value")))
    assert fired(index, "//value") == []
    assert fired(index, "/a/b/value") == []
    assert fired(index, "/zz/value") == ["p"]


def test_device_and_group_scopes() -> None:
    index = index_of(
        trig("everyone", leaf(device_id="*")),
        trig("one", leaf(device_id=DEV)),
        trig("group", leaf(group_name="plant")),
    )
    assert fired(index) == ["everyone", "one"]
    assert fired(index, device=OTHER_DEV) == ["everyone"]
    assert fired(index, device=OTHER_DEV, groups=("plant", "lab")) == ["everyone", "group"]


# --- conditions ------------------------------------------------------------------------------------


def test_and_or_conditions() -> None:
    gt = leaf(match_path="/%{id}/value", value_match_operator=">", known_value=10)
    lt = leaf(match_path="/%{id}/value", value_match_operator="<", known_value=20)
    count = leaf(match_path="/s1/count", value_match_operator="==", known_value=3)
    index = index_of(trig("band", condition={"and": [gt, lt]}), trig("either", condition={"or": [gt, count]}))
    assert fired(index, value=15.0) == ["band", "either"]
    assert fired(index, value=25.0) == ["either"]
    assert fired(index, value=5.0) == []
    assert fired(index, "/s1/count", 3) == ["either"]
    assert fired(index, "/s1/count", 4) == []


def test_or_with_two_leaves_on_one_path_fires_once() -> None:
    a = leaf(match_path="/s1/value", value_match_operator=">", known_value=0)
    b = leaf(match_path="/s1/value", value_match_operator="<", known_value=100)
    assert fired(index_of(trig("t", condition={"or": [a, b]})), value=50.0) == ["t"]


# --- lifecycle ---------------------------------------------------------------------------------------


def test_add_remove_and_duplicates() -> None:
    index = index_of(trig("a", leaf(match_path="/s1/value")), trig("b", leaf(match_path="/%{id}/value")))
    assert len(index) == 2 and [t.name for t in index.triggers("r")] == ["a", "b"]
    with pytest.raises(TriggerError, match="already exists"):
        index.add("r", trig("a"), [SENSORS])
    index.add("other", trig("a"))  # same name, another realm
    assert index.remove("r", "a") is True
    assert index.remove("r", "a") is False
    assert fired(index) == ["b"]
    assert index.remove("r", "b")
    assert fired(index) == [] and index.get("r", "b") is None and len(index) == 1


def test_operator_needs_the_interface_and_is_checked_against_it() -> None:
    index = TriggerIndex()
    typed = trig("t", leaf(match_path="/s1/value", value_match_operator=">", known_value=1))
    with pytest.raises(TriggerError, match="is needed to type it"):
        index.add("r", typed)
    with pytest.raises(TriggerError, match="match_path"):
        index.add("r", trig("u", leaf(match_path="/nope")), [SENSORS])
    with pytest.raises(TriggerError, match="known_value"):
        index.add(
            "r",
            trig("v", leaf(match_path="/s1/count", value_match_operator="==", known_value="x")),
            [SENSORS],
        )
    assert len(index) == 0
    index.add("r", trig("w", leaf(match_path="/s1/value")))  # '*' needs no interface
    assert fired(index) == ["w"]


def test_needs_previous_value_only_where_watched() -> None:
    index = index_of(
        trig("c", leaf(on="value_change", match_path="/%{id}/value")),
        trig("i", leaf(on="incoming_data")),
        trig("g", leaf(on="path_created", match_path="/s1/count", group_name="plant")),
    )
    assert index.needs_previous_value("r", DEV, (), interface=IFACE, major=1, path="/s1/value")
    assert not index.needs_previous_value("r", DEV, (), interface=IFACE, major=1, path="/s1/count")
    assert index.needs_previous_value("r", DEV, ("plant",), interface=IFACE, major=1, path="/s1/count")
    assert not index.needs_previous_value("r", DEV, (), interface=IFACE, major=2, path="/s1/value")


# --- device events -----------------------------------------------------------------------------------


def device_trig(name: str, on: str, **scope: str) -> Trigger:
    return parse_trigger(
        {"name": name, "action": ACTION, "simple_triggers": [{"type": "device_trigger", "on": on, **scope}]}
    )


@pytest.mark.parametrize("kind", list(DeviceTriggerOn))
def test_device_event_kinds(kind: DeviceTriggerOn) -> None:
    index = index_of(device_trig("t", kind.value, device_id="*"))
    assert [t.name for t in index.matches_for_device_event("r", DEV, (), kind)] == ["t"]
    other = next(k for k in DeviceTriggerOn if k is not kind)
    assert index.matches_for_device_event("r", DEV, (), other) == []


def test_device_event_scopes_and_no_data_match() -> None:
    index = index_of(
        device_trig("all", "device_connected"),
        device_trig("one", "device_connected", device_id=DEV),
        device_trig("grp", "device_connected", group_name="plant"),
    )

    def names(device: str, groups: tuple[str, ...] = ()) -> list[str]:
        return [t.name for t in index.matches_for_device_event("r", device, groups, "device_connected")]

    assert names(DEV) == ["all", "one"]
    assert names(OTHER_DEV, ("plant",)) == ["all", "grp"]
    assert fired(index) == []
    assert index.remove("r", "all") and names(DEV) == ["one"]


def test_phase_enum_accepts_strings() -> None:
    assert ReadingPhase("stored") is ReadingPhase.STORED
    with pytest.raises(ValueError, match="later"):
        fired(index_of(), phase="later")


# --- property: the index returns exactly what a scan of every trigger returns -------------------------

_PATHS = ["/*", "/s1/value", "/s2/value", "/%{id}/value", "/s1/count"]
_READ_PATHS = ["/s1/value", "/s2/value", "/s3/value", "/s1/count"]
_ONS = ["incoming_data", "value_stored", "value_change", "path_created", "path_removed"]


def _reference(leaf: dict[str, Any], reading: tuple[Any, ...]) -> bool:
    """A direct reading of the rules, independent of the index's compiled tests."""
    device, groups, interface, path, value, previous, phase = reading
    if leaf["interface_name"] != "*" and (leaf["interface_name"], leaf["interface_major"]) != (interface, 1):
        return False
    if "device_id" in leaf and leaf["device_id"] != device:
        return False
    if "group_name" in leaf and leaf["group_name"] not in groups:
        return False
    pattern = leaf["match_path"]
    if pattern != "/*" and not (pattern == path or (pattern == "/%{id}/value" and path.endswith("/value"))):
        return False
    on = leaf["on"]
    if phase != ("incoming" if on in ("incoming_data", "value_change") else "stored"):
        return False
    if on == "value_change" and value == previous:
        return False
    if on == "path_created" and not (previous is None and value is not None):
        return False
    if on == "path_removed" and value is not None:
        return False
    if leaf["value_match_operator"] == ">":
        return value is not None and value > leaf["known_value"]
    return True


@st.composite
def _leaves(draw: st.DrawFn) -> dict[str, Any]:
    path = draw(st.sampled_from(_PATHS))
    on = draw(st.sampled_from(_ONS))
    out = leaf(on=on, match_path=path)
    if draw(st.booleans()) and path != "/*":
        out["interface_name"] = draw(st.sampled_from([IFACE, "org.example.Other"]))
    elif draw(st.booleans()):
        out.update(interface_name="*", interface_major=None, match_path="/*")
    if out["match_path"].endswith("/value") and on != "path_removed" and draw(st.booleans()):
        out.update(value_match_operator=">", known_value=draw(st.integers(0, 4)))
    scope = draw(st.sampled_from([None, "device", "group"]))
    if scope == "device":
        out["device_id"] = draw(st.sampled_from([DEV, OTHER_DEV]))
    elif scope == "group":
        out["group_name"] = draw(st.sampled_from(["plant", "lab"]))
    return {k: v for k, v in out.items() if v is not None}


_VALUES = st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.5, 4.0, 5.0]))
_READINGS = st.tuples(
    st.sampled_from([DEV, OTHER_DEV]),
    st.frozensets(st.sampled_from(["plant", "lab"])),
    st.sampled_from([IFACE, "org.example.Other"]),
    st.sampled_from(_READ_PATHS),
    _VALUES,
    _VALUES,
    st.sampled_from(["incoming", "stored"]),
)


@settings(max_examples=200, deadline=None)
@given(leaves=st.lists(_leaves(), max_size=25), readings=st.lists(_READINGS, min_size=1, max_size=10))
def test_index_agrees_with_a_scan_of_every_trigger(
    leaves: list[dict[str, Any]], readings: list[tuple[Any, ...]]
) -> None:
    other = parse_interface({**SENSORS.to_json(), "interface_name": "org.example.Other"})
    index = TriggerIndex()
    for i, item in enumerate(leaves):
        index.add("r", trig(f"t{i}", item), [SENSORS, other])
    for drawn in readings:
        device, groups, interface, path, value, previous, phase = drawn
        if path.endswith("/count"):  # an integer mapping: integer values
            value = None if value is None else int(value)
            previous = None if previous is None else int(previous)
        reading = (device, groups, interface, path, value, previous, phase)
        expected = [f"t{i}" for i, item in enumerate(leaves) if _reference(item, reading)]
        got = index.matches_for_reading("r", device, groups, interface, 1, path, value, previous, phase)
        assert [t.name for t in got] == expected
