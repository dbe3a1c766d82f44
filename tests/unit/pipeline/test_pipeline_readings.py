"""Stored values read back in Astarte's JSON shapes: timestamps and every value type."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.store.readings import Sample, iso_time, json_value

JAN_2024_US = 1_704_067_200_000_000


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (999, "1970-01-01T00:00:00.000Z"),  # below a millisecond: truncated
        (1_000, "1970-01-01T00:00:00.001Z"),
        (JAN_2024_US, "2024-01-01T00:00:00.000Z"),
        (JAN_2024_US + 123_456, "2024-01-01T00:00:00.123Z"),
        (JAN_2024_US + 999_999, "2024-01-01T00:00:00.999Z"),  # truncated, not rounded up
        (JAN_2024_US + 59_999_999, "2024-01-01T00:00:59.999Z"),
        (951_782_400_000_000, "2000-02-29T00:00:00.000Z"),
        (2_147_483_647_000_001, "2038-01-19T03:14:07.000Z"),
        (-1_000, "1969-12-31T23:59:59.999Z"),
    ],
)
def test_iso_time(micros: int, text: str) -> None:
    assert iso_time(micros) == text


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (10_413_792_000_001_000, "2300-01-01T00:00:00.001Z"),
        (253_402_300_799_999_000, "9999-12-31T23:59:59.999Z"),
    ],
)
def test_iso_time_far_future_keeps_milliseconds(micros: int, text: str) -> None:
    assert iso_time(micros) == text


def row(
    *,
    double: float = 0.0,
    long: int = 0,
    boolean: bool = False,
    string: str | bytes = "",
    double_array: list[float] | None = None,
    long_array: list[int] | None = None,
    bool_array: list[bool] | None = None,
    string_array: list[Any] | None = None,
) -> tuple[Any, ...]:
    """The value columns of a stored row, as the store returns them (value_type first)."""
    return (
        "ignored",
        double,
        long,
        boolean,
        string,
        double_array or [],
        long_array or [],
        bool_array or [],
        string_array or [],
    )


# Every other column holds a decoy, so reading the wrong column fails.
DECOYS = row(
    double=-9.5,
    long=-9,
    boolean=True,
    string="decoy",
    double_array=[-9.5],
    long_array=[-9],
    bool_array=[True],
    string_array=["decoy"],
)


def with_column(index: int, value: object) -> tuple[Any, ...]:
    values = list(DECOYS)
    values[index] = value
    return tuple(values)


@pytest.mark.parametrize(
    ("value_type", "stored", "expected"),
    [
        ("double", with_column(1, 21.5), 21.5),
        ("integer", with_column(2, 7), 7),
        ("longinteger", with_column(2, 2**62), 2**62),
        ("boolean", with_column(3, False), False),
        ("string", with_column(4, "caf\u00e9"), "caf\u00e9"),
        ("string", with_column(4, "caf\u00e9".encode()), "caf\u00e9"),
        ("binaryblob", with_column(4, b"\x00\xff\x10"), "AP8Q"),
        ("binaryblob", with_column(4, "\x00\xff\x10"), "AP8Q"),  # a String column read as latin-1 text
        ("binaryblob", with_column(4, b""), ""),
        ("datetime", with_column(2, JAN_2024_US + 250_000), "2024-01-01T00:00:00.250Z"),
        ("doublearray", with_column(5, (1.5, 2.0)), [1.5, 2.0]),
        ("integerarray", with_column(6, (1, -2)), [1, -2]),
        ("longintegerarray", with_column(6, (2**40,)), [2**40]),
        ("booleanarray", with_column(7, (True, False)), [True, False]),
        ("stringarray", with_column(8, ("a", b"b")), ["a", "b"]),
        ("binaryblobarray", with_column(8, (b"\x01", "\xff")), ["AQ==", "/w=="]),
        (
            "datetimearray",
            with_column(6, (0, JAN_2024_US)),
            ["1970-01-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z"],
        ),
        ("doublearray", with_column(5, ()), []),
        ("object", DECOYS, None),
        ("no-such-type", DECOYS, None),
    ],
)
def test_json_value(value_type: str, stored: tuple[Any, ...], expected: object) -> None:
    result = json_value(value_type, stored)

    assert result == expected
    assert type(result) is type(expected)


def test_sample_to_json() -> None:
    sample = Sample("/a/b", [1, 2], JAN_2024_US + 1_500, JAN_2024_US + 2_000_000)

    assert sample.to_json() == {
        "value": [1, 2],
        "timestamp": "2024-01-01T00:00:00.001Z",
        "reception_timestamp": "2024-01-01T00:00:02.000Z",
    }
