"""Endpoint trie: resolution tables, Astarte's overlap cases, and property tests against brute force."""

from __future__ import annotations

import re
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.endpoints import EndpointConflict, EndpointTrie, compile_templates, is_well_formed_path
from schemas.errors import InterfaceError
from schemas.interface import Interface, parse_interface


def build(endpoints: list[str], aggregation: str = "individual") -> Interface:
    return parse_interface(
        {
            "interface_name": "org.example.Trie",
            "version_major": 1,
            "version_minor": 0,
            "type": "datastream",
            "ownership": "device",
            "aggregation": aggregation,
            "mappings": [{"endpoint": e, "type": "double"} for e in endpoints],
        }
    )


MIXED = build(
    [
        "/%{sensor_id}/value",
        "/%{sensor_id}/config/%{key}",
        "/a/x",
        "/meta/firmware/version",
    ]
)
# The valid interface of Astarte's EndpointsAutomaton tests.
DEVICE_LOG = build(
    [
        "/message",
        "/timestamp",
        "/pid",
        "/filterRules/%{ruleId}/%{filterKey}/value",
        "/test/%{ind}/v",
        "/test2/pluto/v",
    ]
)


@pytest.mark.parametrize(
    ("interface", "path", "endpoint", "params"),
    [
        (MIXED, "/s1/value", "/%{sensor_id}/value", {"sensor_id": "s1"}),
        (MIXED, "/a/value", "/%{sensor_id}/value", {"sensor_id": "a"}),
        (MIXED, "/meta/value", "/%{sensor_id}/value", {"sensor_id": "meta"}),
        (MIXED, "/a/x", "/a/x", {}),
        (MIXED, "/a/config/k", "/%{sensor_id}/config/%{key}", {"sensor_id": "a", "key": "k"}),
        (MIXED, "/meta/config/k", "/%{sensor_id}/config/%{key}", {"sensor_id": "meta", "key": "k"}),
        (
            MIXED,
            "/s-1.x_y/config/any thing",
            "/%{sensor_id}/config/%{key}",
            {"sensor_id": "s-1.x_y", "key": "any thing"},
        ),
        (MIXED, "/meta/firmware/version", "/meta/firmware/version", {}),
        (MIXED, "/%{x}/value", "/%{sensor_id}/value", {"sensor_id": "%{x}"}),
        (DEVICE_LOG, "/message", "/message", {}),
        (DEVICE_LOG, "/test/0/v", "/test/%{ind}/v", {"ind": "0"}),
        (DEVICE_LOG, "/test/pluto/v", "/test/%{ind}/v", {"ind": "pluto"}),
        (DEVICE_LOG, "/test2/pluto/v", "/test2/pluto/v", {}),
        (
            DEVICE_LOG,
            "/filterRules/hello/world/value",
            "/filterRules/%{ruleId}/%{filterKey}/value",
            {"ruleId": "hello", "filterKey": "world"},
        ),
    ],
)
def test_resolve(interface: Interface, path: str, endpoint: str, params: dict[str, str]) -> None:
    trie = EndpointTrie(interface)
    match = trie.resolve(path)
    assert match is not None
    assert match.mapping.endpoint == endpoint
    assert match.params == params
    assert interface.mappings[trie.lookup(path) or 0].endpoint == endpoint


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/",
        "s1/value",
        "/s1",
        "/s1/value/extra",
        "/s1/valu",
        "/s1/Value",
        "/A/x/y",
        "/s1//value",
        "//value",
        "/s1/value/",
        "/s+/value",
        "/s#/value",
        "/+/value",
        "/#",
        "/a/config/",
        "/test2/pluto",
        "/test2/plut/v",
        "/filterRules/hello/world/value/too/long",
        "/filterRules/hello/value/other/things",
        "/filterRules/hello/world",
        "/notFound/hello/world/value",
        "/message/x",
    ],
)
def test_resolve_misses(path: str) -> None:
    for interface in (MIXED, DEVICE_LOG):
        trie = EndpointTrie(interface)
        assert trie.resolve(path) is None
        assert trie.lookup(path) is None
        assert trie.resolve_object(path) is None


@pytest.mark.parametrize(
    ("path", "well_formed"),
    [
        ("/a", True),
        ("/a/b c", True),
        ("/", True),
        ("", False),
        ("a", False),
        ("/a/", False),
        ("//a", False),
        ("/a+", False),
        ("/#", False),
    ],
)
def test_is_well_formed_path(path: str, well_formed: bool) -> None:
    assert is_well_formed_path(path) is well_formed


def test_object_resolves_the_prefix() -> None:
    interface = build(["/%{sensor}/value", "/%{sensor}/temp"], aggregation="object")
    trie = EndpointTrie(interface)
    match = trie.resolve("/s7")
    assert match is not None and match.mapping is interface.mappings[0]
    assert match.params == {"sensor": "s7"}
    found = trie.resolve_object("/s7")
    assert found is not None
    assert found.prefix == "/%{sensor}"
    assert found.mappings == {"value": interface.mappings[0], "temp": interface.mappings[1]}
    assert found.params == {"sensor": "s7"}
    for miss in ["/s7/value", "/", "/s+", ""]:
        assert trie.resolve(miss) is None
        assert trie.resolve_object(miss) is None


def test_object_with_one_level_endpoints_is_published_on_root() -> None:
    interface = build(["/x", "/y"], aggregation="object")
    trie = EndpointTrie(interface)
    found = trie.resolve_object("/")
    assert found is not None and found.prefix == "/" and set(found.mappings) == {"x", "y"}
    assert trie.resolve("/x") is None and trie.lookup("/") == 0


def test_resolve_object_on_individual_is_none() -> None:
    assert EndpointTrie(MIXED).resolve_object("/s1/value") is None


# Cases from Astarte's own EndpointsAutomaton tests.
@pytest.mark.parametrize(
    "endpoints",
    [
        ["/some/%{param}/here", "/some/thing"],
        ["/some/%{param}", "/some/thing/here"],
        ["/some/%{param}", "/%{some}/param"],
        ["/test/%{ind}/v", "/test/pluto/v"],
        ["/a", "/a/b"],
        ["/a/b", "/a"],
    ],
)
def test_astarte_overlapping_mappings(endpoints: list[str]) -> None:
    with pytest.raises(EndpointConflict):
        compile_templates(endpoints)
    with pytest.raises(InterfaceError):
        build(endpoints)


def test_astarte_similar_tokens_are_fine() -> None:
    endpoints = ["/b/%{a}/%{b}/a", "/a/a/a/b", "/a/a/b", "/a/b"]
    trie = EndpointTrie(build(endpoints))
    for endpoint in endpoints:
        path = endpoint.replace("%{a}", "p").replace("%{b}", "q")
        match = trie.resolve(path)
        assert match is not None and match.mapping.endpoint == endpoint


# ---- property tests: the trie agrees with a brute-force regex over the templates ----

TOKENS = st.sampled_from(["a", "b", "c", "%{p}", "%{q}", "%{r}"])
TEMPLATES = st.lists(
    st.lists(TOKENS, min_size=1, max_size=4).map(lambda ts: "/" + "/".join(ts)),
    min_size=1,
    max_size=8,
    unique=True,
)
VALUES = st.text(alphabet="abcXYZ09-_. %{}", min_size=1, max_size=5)


def _regex(template: str) -> re.Pattern[str]:
    parts = ["([^/+#]+)" if t.startswith("%{") else re.escape(t) for t in template.split("/")[1:]]
    return re.compile("/" + "/".join(parts))


def _valid_or_none(endpoints: list[str]) -> Interface | None:
    names = [e.replace("%{p}", "%{p1}") for e in endpoints]
    try:
        return build(names)
    except InterfaceError:
        return None


@settings(max_examples=300, deadline=None)
@given(TEMPLATES, st.data())
def test_trie_matches_exactly_the_endpoint_a_path_was_built_from(endpoints: list[str], data: Any) -> None:
    interface = _valid_or_none(endpoints)
    if interface is None:
        return
    trie = EndpointTrie(interface)
    mapping = data.draw(st.sampled_from(interface.mappings))
    values = {t: data.draw(VALUES) for t in mapping.tokens if t.startswith("%{")}
    path = "/" + "/".join(values.get(t, t) for t in mapping.tokens)
    match = trie.resolve(path)
    assert match is not None
    assert match.mapping == mapping
    assert match.params == {t[2:-1]: v for t, v in values.items()}


@settings(max_examples=300, deadline=None)
@given(TEMPLATES, st.lists(st.sampled_from(["a", "b", "c", "zz", "", "+", "x#"]), min_size=0, max_size=5))
def test_trie_agrees_with_brute_force(endpoints: list[str], tokens: list[str]) -> None:
    interface = _valid_or_none(endpoints)
    if interface is None:
        return
    path = "/" + "/".join(tokens)
    expected = [m for m in interface.mappings if _regex(m.endpoint).fullmatch(path)]
    assert len(expected) <= 1, "an accepted interface never has two matching endpoints"
    match = EndpointTrie(interface).resolve(path)
    assert (match.mapping if match else None) == (expected[0] if expected else None)


@settings(max_examples=200, deadline=None)
@given(TEMPLATES)
def test_refused_sets_really_overlap(endpoints: list[str]) -> None:
    """Whenever compile_templates refuses, some concrete path matches two templates or a prefix."""
    try:
        compile_templates(endpoints)
    except EndpointConflict as exc:
        a, b = exc.first.split("/")[1:], exc.second.split("/")[1:]
        n = min(len(a), len(b))
        assert all(x == y or "%{" in x or "%{" in y for x, y in zip(a[:n], b[:n], strict=True))
        assert (len(a) == len(b)) == (exc.kind == "ambiguous")


@settings(max_examples=300, deadline=None)
@given(TEMPLATES, st.lists(st.sampled_from(["a", "b", "c", "zz", "", "+"]), min_size=0, max_size=5))
def test_backtracking_fallback_agrees_with_merged_trie(endpoints: list[str], tokens: list[str]) -> None:
    interface = _valid_or_none(endpoints)
    if interface is None:
        return
    merged = EndpointTrie(interface)
    with patch("schemas.endpoints._node_budget", return_value=0):
        fallback = EndpointTrie(interface)
    assert merged.deterministic and not fallback.deterministic
    path = "/" + "/".join(tokens)
    assert merged.resolve(path) == fallback.resolve(path)


def test_crafted_interleavings_stay_fast_and_correct() -> None:
    """Merging these 30 templates would need about 2**30 nodes; the trie falls back to backtracking."""
    k = 30
    endpoints = [
        "/" + "/".join("a" if j == i else f"%{{p{j}}}" for j in range(k)) + f"/z{i}" for i in range(k)
    ]
    trie = EndpointTrie(build(endpoints))
    assert not trie.deterministic
    for i in (0, 17, k - 1):
        path = "/" + "/".join("a" if j in (i, 3) else f"v{j}" for j in range(k)) + f"/z{i}"
        match = trie.resolve(path)
        assert match is not None and match.mapping.endpoint == endpoints[i]
        assert match.params[f"p{(i + 1) % k}"] in {"a", f"v{(i + 1) % k}"}
    assert trie.resolve("/" + "/".join(["a"] * k) + "/z99") is None
