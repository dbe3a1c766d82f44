"""``WebhookTopology.deliver`` against a real local HTTP receiver: policies decide retries, dead letters."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.registry.triggers import DeadLetter
from schemas.policies import DEFAULT_POLICY, DeliveryPolicy, parse_policy
from schemas.records import trigger_events
from schemas.trigger_records import REASON, data_record
from schemas.triggers import Trigger, parse_trigger
from tests.e2e.webhook_receiver import Receiver, serve
from topologies.webhooks import WebhookTopology


class FakeApp:
    def topic(self, *_args: object, **_kw: object) -> str:
        return "topic"

    def agent(self, *_args: object, **_kw: object) -> Any:
        return lambda fun: fun


class FakeCatalog:
    def __init__(self, trigger: Trigger, policy: DeliveryPolicy) -> None:
        self._trigger, self._policy = trigger, policy

    def trigger(self, _realm: str, name: str) -> Trigger | None:
        return self._trigger if name == self._trigger.name else None

    async def policy(self, _realm: str, name: str | None) -> DeliveryPolicy:
        return DEFAULT_POLICY if name is None else self._policy


class FakeBook:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    async def add_dead_letter(self, letter: DeadLetter) -> None:
        self.letters.append(letter)


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        self.sent.append((topic, value))


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver, server = serve()
    yield receiver
    server.shutdown()


def setup(
    receiver: Receiver, path: str, policy: dict[str, Any] | None
) -> tuple[WebhookTopology, bytes, FakeBook]:
    trigger = parse_trigger(
        {
            "name": "t",
            "action": {"http_url": receiver.url(path), "http_method": "post"},
            "simple_triggers": [{"type": "device_trigger", "on": "device_connected"}],
            **({"policy": policy["name"]} if policy else {}),
        }
    )
    book = FakeBook()
    topology = WebhookTopology(
        FakeApp(),  # type: ignore[arg-type]
        FakeCatalog(trigger, parse_policy(policy) if policy else DEFAULT_POLICY),  # type: ignore[arg-type]
        book,  # type: ignore[arg-type]
        FakeProducer(),  # type: ignore[arg-type]
        trigger_events_topic="events",
        dead_letter_topic="dlq",
    )
    reading = {
        "device_id": "dev",
        "interface": "org.acme.X",
        "major": 1,
        "path": "/v",
        "value_type": "double",
        "value": 1.5,
        "timestamp": time.time_ns() // 1000,
    }
    record = data_record(
        event_id=f"e{path}",
        realm="acme",
        trigger_name="t",
        policy=policy["name"] if policy else None,
        event_type="incoming_data",
        reading=reading,
        previous_value=None,
        now_us=time.time_ns() // 1000,
    )
    return topology, trigger_events().encode(record), book


async def test_without_a_policy_a_failure_is_discarded(receiver: Receiver) -> None:
    receiver.fail["/discard"] = 5
    topology, data, book = setup(receiver, "/discard", None)

    outcome = await topology.deliver(data)
    await topology.stop()

    assert outcome == "discarded" and len(receiver.on("/discard")) == 1 and book.letters == []


async def test_a_receiver_that_never_answers_is_dead_lettered_at_the_ttl(receiver: Receiver) -> None:
    receiver.hang.add("/hang")
    policy = {
        "name": "ttl",
        "error_handlers": [{"on": "any_error", "strategy": "retry"}],
        "maximum_capacity": 10,
        "retry_times": 5,
        "event_ttl": 2,
    }
    topology, data, book = setup(receiver, "/hang", policy)

    started = time.monotonic()
    outcome = await topology.deliver(data)
    took = time.monotonic() - started
    await topology.stop()

    assert outcome == "dead_letter" and took < 4
    assert "event_ttl" in book.letters[0].reason
    assert REASON in trigger_events().decode(book.letters[0].record)["fields"]


async def test_exhausted_retries_are_dead_lettered(receiver: Receiver) -> None:
    receiver.fail["/exhaust"] = 10
    policy = {
        "name": "once",
        "error_handlers": [{"on": "server_error", "strategy": "retry"}],
        "maximum_capacity": 10,
        "retry_times": 1,
    }
    topology, data, book = setup(receiver, "/exhaust", policy)

    outcome = await topology.deliver(data)
    await topology.stop()

    assert outcome == "dead_letter" and len(receiver.on("/exhaust")) == 2
    assert "retries exhausted" in book.letters[0].reason
