"""Readings ClickHouse cannot hold are told apart before the insert, and errors by whether a retry helps."""

from __future__ import annotations

import struct

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from pipeline.errors import StoreError, StoreRejectedError
from pipeline.store.clickhouse import store_error
from pipeline.store.columns import insert_columns, unstorable
from tests.helpers import reading
from topologies.sink import retriable

T0 = 1_700_000_000_000_000


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"timestamp": 16_725_225_600_000_000}, "timestamp"),  # year 2500
        ({"reception_timestamp": -(2**62)}, "reception_timestamp"),
        ({"major": -1}, "major"),
        ({"value": "oops"}, "not a double"),
        ({"value": True}, "not a double"),
        ({"value_type": "doublearray", "value": 1.0}, "not a doublearray"),
        ({"value_type": "datetime", "value": 2**62}, "years 1-9999"),
        ({"value_type": "longintegerarray", "value": [1, "2"]}, "not a longintegerarray"),
    ],
)
def test_unstorable_readings_say_why(changes: dict[str, object], why: str) -> None:
    reason = unstorable({**reading("d", "/a/value", 1.5, T0), **changes})
    assert reason is not None and why in reason


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"value": 2},  # an integer is a fine double
        {"value": None},  # an unset
        {"value_type": "datetime", "value": T0},
        {"value_type": "binaryblobarray", "value": [b"a", b""]},
        {"value_type": "object", "value": {"x": 1.0}},
    ],
)
def test_storable_readings_pass(changes: dict[str, object]) -> None:
    assert unstorable({**reading("d", "/a/value", 1.5, T0), **changes}) is None


def test_sorted_out_batches_keep_each_reading_id() -> None:
    batch = {
        "id_base": 100,
        "readings": [reading("d", "/a/value", 1.0, T0), reading("d", "/a/value", 3.0, T0)],
    }
    columns = insert_columns([{**batch, "ids": [100, 102]}], None)
    assert columns.individual[8] == [100, 102]


def test_client_errors_are_rejected_or_retriable_by_cause() -> None:
    assert isinstance(store_error(ValueError("could not convert"), "x"), StoreRejectedError)
    assert isinstance(store_error(struct.error("out of range"), "x"), StoreRejectedError)
    assert isinstance(store_error(DatabaseError("Code: 321", code=321), "x"), StoreRejectedError)
    unreachable = store_error(OperationalError("connection refused"), "x")
    assert type(unreachable) is StoreError and retriable(unreachable)
    assert retriable(store_error(DatabaseError("Code: 252 TOO_MANY_PARTS", code=252), "x"))
    assert not retriable(StoreRejectedError("no")) and not retriable(KeyError("bug"))
    assert retriable(ConnectionRefusedError()) and retriable(TimeoutError())
