"""AppEngine helpers: ISO 8601 query parameters and the nested interface snapshot."""

from __future__ import annotations

import pytest

from pipeline.api.appengine import nest, parse_time
from pipeline.errors import BadRequestError, ValidationError
from pipeline.store.readings import Sample

JAN_2024_US = 1_704_067_200_000_000


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:00.000Z", 0),
        ("2024-01-01T00:00:00Z", JAN_2024_US),
        ("2024-01-01T00:00:00+00:00", JAN_2024_US),
        ("2024-01-01T01:00:00+01:00", JAN_2024_US),
        ("2023-12-31T19:00:00-05:00", JAN_2024_US),
        ("2024-01-01T05:30:00+05:30", JAN_2024_US),
        ("2024-01-01T00:00:00", JAN_2024_US),  # naive means UTC
        ("2024-01-01", JAN_2024_US),
        ("2024-01-01T00:00:00.5Z", JAN_2024_US + 500_000),
        ("2024-01-01T00:00:00.123Z", JAN_2024_US + 123_000),
        ("2024-01-01T00:00:00.000001Z", JAN_2024_US + 1),
        ("2024-01-01T00:00:00.999999Z", JAN_2024_US + 999_999),
        ("1969-12-31T23:59:59Z", -1_000_000),
    ],
)
def test_parse_time(text: str, micros: int) -> None:
    assert parse_time("since", text) == micros


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("2300-01-01T00:00:00.000001Z", 10_413_792_000_000_001),
        ("9999-12-31T23:59:59.999Z", 253_402_300_799_999_000),
    ],
)
def test_parse_time_far_future_is_exact(text: str, micros: int) -> None:
    assert parse_time("to", text) == micros


def test_parse_time_of_nothing_is_none() -> None:
    assert parse_time("since", None) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "1704067200",
        "2024-13-01T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2024-01-01T25:00:00Z",
        "2024-01-01T00:00:00ZZ",
        "2024-01-01T00:00:00+25:00",
        "2024/01/01 00:00",
    ],
)
def test_parse_time_refuses_garbage(text: str) -> None:
    with pytest.raises(BadRequestError, match="since_after") as caught:
        parse_time("since_after", text)

    assert isinstance(caught.value, ValidationError)
    assert isinstance(caught.value.__cause__, ValueError)


def sample(path: str, value: object) -> Sample:
    return Sample(path, value, JAN_2024_US, JAN_2024_US + 1_000)


def test_nest_by_path_segment() -> None:
    samples = [
        sample("/room1/temp", 21.5),
        sample("/room1/humidity", 40),
        sample("/room2/deep/er/value", "x"),
        sample("/top", True),
    ]

    tree = nest(samples)

    assert tree == {
        "room1": {"temp": samples[0].to_json(), "humidity": samples[1].to_json()},
        "room2": {"deep": {"er": {"value": samples[2].to_json()}}},
        "top": samples[3].to_json(),
    }
    assert tree["room1"]["temp"]["value"] == 21.5
    assert tree["room1"]["temp"]["timestamp"] == "2024-01-01T00:00:00.000Z"


def test_nest_ignores_outer_slashes() -> None:
    assert nest([sample("a/b/", 1)]) == {"a": {"b": sample("/a/b", 1).to_json()}}


def test_nest_of_nothing_is_empty() -> None:
    assert nest([]) == {}
