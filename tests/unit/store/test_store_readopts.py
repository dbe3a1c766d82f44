"""AppEngine read options and answer shapes: parsing, value policies, formats and page cuts."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.api.answers import cut, object_answer, sample_answer, tree
from pipeline.api.readopts import MAX_SAFE_INTEGER, ReadOptions, iso_micros, parse_options, parse_time
from pipeline.errors import BadRequestError
from pipeline.store.objects import ObjectSample
from pipeline.store.readings import MAX_LIMIT, Sample, Window

T0 = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z


def test_defaults() -> None:
    opts = parse_options({})

    assert opts == ReadOptions()
    assert opts.window == Window(limit=MAX_LIMIT) and opts.window.newest_first


@pytest.mark.parametrize(
    ("query", "check"),
    [
        ({"limit": "5"}, lambda o: o.window.limit == 5 and o.limited),
        ({"since": "2024-01-01T00:00:00Z"}, lambda o: o.window.since == T0 and not o.window.newest_first),
        ({"since_after": "2024-01-01"}, lambda o: o.window.since_after == T0),
        ({"to": "2024-01-01T00:00:01Z"}, lambda o: o.window.to == T0 + 1_000_000 and o.window.newest_first),
        ({"downsample_to": "3"}, lambda o: o.downsample_to == 3),
        ({"downsample_to": "9", "downsample_key": "t"}, lambda o: o.downsample_key == "t"),
        ({"format": "table"}, lambda o: o.format == "table"),
        ({"keep_milliseconds": "TRUE"}, lambda o: o.keep_milliseconds),
        ({"allow_bigintegers": "1"}, lambda o: o.allow_bigintegers),
        ({"allow_safe_bigintegers": "false"}, lambda o: not o.allow_safe_bigintegers),
        ({"since": "2024-01-01", "offset": "4"}, lambda o: o.window.offset == 4),
    ],
)
def test_parse_options(query: dict[str, str], check: Any) -> None:
    assert check(parse_options(query))


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": str(MAX_LIMIT + 1)}, "limit"),
        ({"downsample_to": "2"}, "downsample_to"),
        ({"since": "x"}, "since"),
        ({"since": "2024-01-01", "since_after": "2024-01-01"}, "together"),
        ({"since": "2024-01-02", "to": "2024-01-01"}, "later"),
        ({"format": "json"}, "format"),
        ({"keep_milliseconds": "yesno"}, "keep_milliseconds"),
        ({"offset": "3"}, "offset needs since"),
        ({"downsample_key": "t"}, "downsample_to"),
    ],
)
def test_bad_options(query: dict[str, str], reason: str) -> None:
    with pytest.raises(BadRequestError, match=reason):
        parse_options(query)


@pytest.mark.parametrize(
    ("opts", "value_type", "value", "expected"),
    [
        (ReadOptions(), "longinteger", 5, "5"),
        (ReadOptions(allow_bigintegers=True), "longinteger", 2**62, 2**62),
        (ReadOptions(allow_safe_bigintegers=True), "longinteger", MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
        (
            ReadOptions(allow_safe_bigintegers=True),
            "longinteger",
            MAX_SAFE_INTEGER + 1,
            str(MAX_SAFE_INTEGER + 1),
        ),
        (
            ReadOptions(allow_safe_bigintegers=True),
            "longinteger",
            -MAX_SAFE_INTEGER - 1,
            str(-MAX_SAFE_INTEGER - 1),
        ),
        (ReadOptions(), "longintegerarray", [1, 2], ["1", "2"]),
        (ReadOptions(), "integer", 5, 5),
        (ReadOptions(), "double", 5.5, 5.5),
    ],
)
def test_value_policy(opts: ReadOptions, value_type: str, value: Any, expected: Any) -> None:
    assert opts.value(value_type, value) == expected


def test_times() -> None:
    assert ReadOptions().time(T0 + 1_500) == "2024-01-01T00:00:00.001Z"
    assert ReadOptions(keep_milliseconds=True).time(T0 + 1_500) == T0 // 1000 + 1
    assert parse_time("since", iso_micros(T0 + 7)) == T0 + 7


def samples(*times: int) -> list[Sample]:
    return [Sample("/a/b", float(i), t, t + 1, "double") for i, t in enumerate(times)]


@pytest.mark.parametrize(
    ("times", "limit", "since", "offset", "page", "following"),
    [
        ((1, 2), 2, None, 0, 2, None),
        ((1, 2, 3), 2, None, 0, 2, {"since": iso_micros(2), "offset": "1"}),
        ((1, 2, 2), 2, None, 0, 2, {"since": iso_micros(2), "offset": "1"}),
        ((2, 2, 2), 2, 2, 3, 2, {"since": iso_micros(2), "offset": "5"}),
        ((2, 2, 2), 2, 1, 3, 2, {"since": iso_micros(2), "offset": "2"}),
    ],
)
def test_cut(
    times: tuple[int, ...],
    limit: int,
    *,
    since: int | None,
    offset: int,
    page: int,
    following: dict[str, str] | None,
) -> None:
    kept, link = cut(samples(*times), limit, since, offset)

    assert len(kept) == page
    assert link == following


def test_sample_formats() -> None:
    [s] = samples(T0)

    assert sample_answer([s], "/a/b", ReadOptions(format="table")) == {
        "metadata": {"columns": {"timestamp": 0, "b": 1}, "table_header": ["timestamp", "b"]},
        "data": [["2024-01-01T00:00:00.000Z", 0.0]],
    }
    assert sample_answer([s], "/a/b", ReadOptions(format="disjoint_tables")) == {
        "data": {"value": [[0.0, "2024-01-01T00:00:00.000Z"]]}
    }
    downsampled = Sample("/a/b", 1.0, T0, None, "double")
    assert sample_answer([downsampled], "/a/b", ReadOptions()) == {
        "data": [{"value": 1.0, "timestamp": "2024-01-01T00:00:00.000Z"}]
    }


def test_object_table_orders_members_by_interface_and_fills_gaps() -> None:
    objects = [
        ObjectSample("/s", T0, None, {"b": 1}, {"b": "integer"}),
        ObjectSample("/s", T0 + 1000, None, {"a": 2.0, "b": 3}, {"a": "double", "b": "integer"}),
    ]

    answer = object_answer(objects, ["a", "b", "c"], ReadOptions(format="table"))

    assert answer["metadata"]["table_header"] == ["timestamp", "a", "b"]
    assert answer["data"] == [["2024-01-01T00:00:00.000Z", None, 1], ["2024-01-01T00:00:00.001Z", 2.0, 3]]


def test_tree_nests_by_segment() -> None:
    assert tree([("/a/b", 1), ("/a/c", 2), ("/d", 3)]) == {"a": {"b": 1, "c": 2}, "d": 3}
