"""Times stored before validation bounded them are still shown: reads never fail on them."""

from __future__ import annotations

import pytest

from pipeline.api.readopts import iso_micros
from pipeline.store.readings import Sample, iso_time, json_value
from schemas.trigger_events import iso_z

POISON_US = 4_611_686_018_427_387_904_000  # 2**62 ms, a device's 't' that once got stored
YEAR_10000_US = 253_402_300_800_000_000
INT64_MIN = -(2**63)


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (YEAR_10000_US, "+10000-01-01T00:00:00.000Z"),
        (YEAR_10000_US + 86_400_000_000 * 60 + 1_500, "+10000-03-01T00:00:00.001Z"),  # a leap year
        (-62_135_596_800_000_001, "0000-12-31T23:59:59.999Z"),
        (INT64_MIN, "-290308-12-21T19:59:05.224Z"),
        (POISON_US, "+146140482-04-24T15:36:27.904Z"),
    ],
)
def test_times_beyond_python_datetime_are_shown_in_expanded_iso_8601(micros: int, text: str) -> None:
    assert iso_time(micros) == text
    assert iso_micros(micros)[:-4] == text[:-1]  # same instant, with microseconds
    assert iso_z(micros).startswith(text[:20])


def test_a_stored_datetime_value_of_year_10000_reads_back() -> None:
    row = ("datetimearray", 0.0, 0, False, "", [], [YEAR_10000_US, 0], [], [])

    assert json_value("datetime", ("datetime", 0.0, YEAR_10000_US, False, "", [], [], [], [])) == (
        "+10000-01-01T00:00:00.000Z"
    )
    assert json_value("datetimearray", row) == ["+10000-01-01T00:00:00.000Z", "1970-01-01T00:00:00.000Z"]
    sample = Sample(path="/a", value=1.0, timestamp=YEAR_10000_US, reception_timestamp=0)
    assert sample.to_json()["timestamp"] == "+10000-01-01T00:00:00.000Z"
