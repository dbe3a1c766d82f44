"""Delivery policies: Astarte's validation rules and the retry/discard/dead-letter decision."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.policies import (
    DEFAULT_POLICY,
    TRANSPORT_ERROR,
    Action,
    DeliveryPolicy,
    Outcome,
    TriggerError,
    backoff_s,
    decide,
    is_expired,
    parse_policy,
)

DISCARD_ALL = [{"on": "any_error", "strategy": "discard"}]


def policy(**fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": "p", "error_handlers": DISCARD_ALL, "maximum_capacity": 100}
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not None}


MIXED = parse_policy(
    policy(
        error_handlers=[
            {"on": [404, 410], "strategy": "discard"},
            {"on": "server_error", "strategy": "retry"},
            {"on": [429], "strategy": "retry"},
        ],
        retry_times=3,
        event_ttl=60,
        prefetch_count=10,
    )
)


def test_round_trip_and_defaults() -> None:
    assert parse_policy(json.dumps(MIXED.to_json())) == MIXED
    minimal = parse_policy(policy())
    assert minimal.prefetch_count == 1 and minimal.retry_times is None and minimal.event_ttl is None
    assert minimal.to_json() == policy(prefetch_count=1)


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "x" * 128},
        {"maximum_capacity": 1},
        {"maximum_capacity": 1_000_000},
        {"event_ttl": 1},
        {"event_ttl": 86_400},
        {"prefetch_count": 300},
        {"error_handlers": [{"on": "any_error", "strategy": "retry"}], "retry_times": 100},
        {"error_handlers": [{"on": [400 + i], "strategy": "discard"} for i in range(200)]},
        {
            "error_handlers": [
                {"on": "client_error", "strategy": "discard"},
                {"on": "server_error", "strategy": "retry"},
            ],
            "retry_times": 1,
        },
    ],
    ids=[
        "name128",
        "cap1",
        "cap1e6",
        "ttl1",
        "ttl86400",
        "prefetch300",
        "retry100",
        "handlers200",
        "classes",
    ],
)
def test_bounds_accepted(fields: dict[str, Any]) -> None:
    assert isinstance(parse_policy(policy(**fields)), DeliveryPolicy)


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("name starts with @", policy(name="@mine"), "name"),
    ("name too long", policy(name="x" * 129), "name"),
    ("empty name", policy(name=""), "name"),
    ("no handlers", policy(error_handlers=[]), "error_handlers"),
    ("201 handlers", policy(error_handlers=[{"on": [400], "strategy": "discard"}] * 201), "error_handlers"),
    (
        "unknown class",
        policy(error_handlers=[{"on": "teapot", "strategy": "discard"}]),
        "error_handlers[0].on",
    ),
    (
        "unknown strategy",
        policy(error_handlers=[{"on": "any_error", "strategy": "log"}]),
        "error_handlers[0].strategy",
    ),
    ("code below 400", policy(error_handlers=[{"on": [302], "strategy": "discard"}]), "error_handlers[0].on"),
    ("code above 599", policy(error_handlers=[{"on": [600], "strategy": "discard"}]), "error_handlers[0].on"),
    ("empty codes", policy(error_handlers=[{"on": [], "strategy": "discard"}]), "error_handlers[0].on"),
    (
        "repeated code",
        policy(error_handlers=[{"on": [500, 500], "strategy": "discard"}]),
        "error_handlers[0].on",
    ),
    (
        "any overlaps client",
        policy(error_handlers=[*DISCARD_ALL, {"on": "client_error", "strategy": "discard"}]),
        "error_handlers[1]",
    ),
    (
        "code overlaps class",
        policy(
            error_handlers=[
                {"on": "server_error", "strategy": "discard"},
                {"on": [503], "strategy": "discard"},
            ]
        ),
        "error_handlers[1]",
    ),
    (
        "codes overlap codes",
        policy(
            error_handlers=[{"on": [401, 403], "strategy": "discard"}, {"on": [403], "strategy": "discard"}]
        ),
        "error_handlers[1]",
    ),
    (
        "retry without retry_times",
        policy(error_handlers=[{"on": "any_error", "strategy": "retry"}]),
        "retry_times",
    ),
    ("retry_times without retry", policy(retry_times=3), "retry_times"),
    (
        "retry_times 0",
        policy(error_handlers=[{"on": "any_error", "strategy": "retry"}], retry_times=0),
        "retry_times",
    ),
    (
        "retry_times 101",
        policy(error_handlers=[{"on": "any_error", "strategy": "retry"}], retry_times=101),
        "retry_times",
    ),
    ("no capacity", {"name": "p", "error_handlers": DISCARD_ALL}, "maximum_capacity"),
    ("capacity 0", policy(maximum_capacity=0), "maximum_capacity"),
    ("capacity above 1e6", policy(maximum_capacity=1_000_001), "maximum_capacity"),
    ("ttl 0", policy(event_ttl=0), "event_ttl"),
    ("ttl above a day", policy(event_ttl=86_401), "event_ttl"),
    ("prefetch 0", policy(prefetch_count=0), "prefetch_count"),
    ("prefetch 301", policy(prefetch_count=301), "prefetch_count"),
    ("capacity as string", policy(maximum_capacity="10"), "maximum_capacity"),
    ("unknown field", policy(color="red"), "color"),
]


@pytest.mark.parametrize(("case", "doc", "field"), BAD, ids=[c[0] for c in BAD])
def test_policy_rules(case: str, doc: dict[str, Any], field: str) -> None:
    with pytest.raises(TriggerError) as info:
        parse_policy(doc)
    assert info.value.field == field, case
    assert str(info.value).startswith(f"{field}: ")


def test_not_json_or_not_object() -> None:
    with pytest.raises(TriggerError, match="not valid JSON"):
        parse_policy(b"{")
    with pytest.raises(TriggerError, match="JSON object"):
        parse_policy([])


DECISIONS: list[tuple[Outcome, int, float, Action, float]] = [
    (200, 1, 0.0, Action.DONE, 0.0),
    (204, 4, 0.0, Action.DONE, 0.0),
    (302, 1, 0.0, Action.DONE, 0.0),
    (404, 1, 0.0, Action.DISCARD, 0.0),
    (410, 2, 0.0, Action.DISCARD, 0.0),
    (400, 1, 0.0, Action.DEAD_LETTER, 0.0),  # no handler covers 400
    (429, 1, 0.0, Action.RETRY, 1.0),
    (500, 1, 0.0, Action.RETRY, 1.0),
    (503, 2, 0.0, Action.RETRY, 2.0),
    (502, 3, 0.0, Action.RETRY, 4.0),
    (500, 4, 0.0, Action.DEAD_LETTER, 0.0),  # 3 retries made
    (TRANSPORT_ERROR, 1, 0.0, Action.RETRY, 1.0),
    (TRANSPORT_ERROR, 4, 0.0, Action.DEAD_LETTER, 0.0),
    (500, 2, 58.5, Action.DEAD_LETTER, 0.0),  # the retry would land after event_ttl
    (500, 1, 58.5, Action.RETRY, 1.0),
]


@pytest.mark.parametrize(("outcome", "attempt", "age", "action", "after"), DECISIONS)
def test_decide(outcome: Outcome, attempt: int, age: float, action: Action, after: float) -> None:
    decision = decide(MIXED, outcome, attempt, age)
    assert (decision.action, decision.after_s) == (action, after)
    assert decision.reason


def test_transport_error_is_a_server_error_but_not_a_listed_code() -> None:
    codes_only = parse_policy(policy(error_handlers=[{"on": [500, 503], "strategy": "retry"}], retry_times=2))
    assert decide(codes_only, TRANSPORT_ERROR, 1).action is Action.DEAD_LETTER
    client_only = parse_policy(
        policy(error_handlers=[{"on": "client_error", "strategy": "retry"}], retry_times=2)
    )
    assert decide(client_only, TRANSPORT_ERROR, 1).action is Action.DEAD_LETTER
    assert decide(client_only, 418, 1).action is Action.RETRY


def test_default_policy_is_astartes_single_attempt() -> None:
    assert DEFAULT_POLICY.name == "@default"
    assert decide(DEFAULT_POLICY, 500, 1).action is Action.DISCARD
    assert decide(DEFAULT_POLICY, TRANSPORT_ERROR, 1).action is Action.DISCARD
    assert decide(DEFAULT_POLICY, 201, 1).action is Action.DONE


def test_backoff_grows_and_caps() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 4, 7, 8, 50)] == [1.0, 2.0, 4.0, 8.0, 60.0, 60.0, 60.0]


def test_is_expired() -> None:
    assert not is_expired(MIXED, 59.9)
    assert is_expired(MIXED, 60.0)
    assert not is_expired(DEFAULT_POLICY, 10**9)
