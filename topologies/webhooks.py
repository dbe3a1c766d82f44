"""Webhook delivery: TriggerEvent records become HTTP requests, under the trigger's delivery policy.

Events wait in one lane per realm and policy (``topologies.lanes``): at most
``prefetch_count`` are delivered at once, started in arrival order (1 keeps a
trigger's events in order), and at most ``maximum_capacity`` wait, the oldest
dropped beyond that. A failure is retried with backoff, discarded or
dead-lettered as ``decide`` says; an event is acked only after its final outcome
(or its drop), so a crash redelivers it (at least once). Dead letters go to the
trigger dead-letter topic and to the registry, where the API lists and replays them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import chevron
import httpx

from pipeline import metrics
from pipeline.registry.triggers import DeadLetter
from schemas.policies import Action, Outcome, decide, is_expired
from schemas.records import RecordError, trigger_events
from schemas.trigger_action import HttpAction, TemplateType
from schemas.trigger_records import ENQUEUED_AT, REASON, event_body, template_values
from topologies.lanes import DROPPED, Lanes

if TYPE_CHECKING:
    import faust
    from aiokafka import AIOKafkaProducer
    from faust.types import EventT, StreamT

    from pipeline.registry.triggers import TriggerBook
    from topologies.catalog import TriggerCatalog

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 10.0
MAX_BACKOFF = 5.0
# Events held in lanes at most; reading the topic waits beyond (maximum_capacity drops first).
MAX_BACKLOG = 100_000


def render(action: HttpAction, record: dict[str, Any]) -> tuple[bytes, str]:
    """The request body and its content type: the event JSON, or the rendered mustache template."""
    if action.template is not None and action.template_type is TemplateType.MUSTACHE:
        return chevron.render(action.template, template_values(record)).encode(), "text/plain; charset=utf-8"
    return json.dumps(event_body(record), separators=(",", ":")).encode(), "application/json"


class WebhookTopology:
    """The delivery agent, registered on a faust app; owns its HTTP clients (``start``/``stop``)."""

    def __init__(
        self,
        app: faust.App,
        catalog: TriggerCatalog,
        book: TriggerBook,
        producer: AIOKafkaProducer,
        *,
        trigger_events_topic: str,
        dead_letter_topic: str,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self._catalog = catalog
        self._book = book
        self._producer = producer
        self._dlq = dead_letter_topic
        self._codec = trigger_events()
        self._timeout_s = timeout_s
        self._clients = {
            verify: httpx.AsyncClient(verify=verify, timeout=timeout_s, follow_redirects=False)
            for verify in (True, False)
        }
        topic = app.topic(trigger_events_topic, value_serializer="raw", key_serializer="raw")
        app.agent(topic, name="webhooks")(self._agent)

    async def stop(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def _agent(self, stream: StreamT[Any]) -> None:
        # noack(): an event is acked only after it was delivered, discarded, dead-lettered or dropped;
        # faust commits only up to the first event not acked yet, so lanes may finish out of order.
        manual: Any = stream.noack()  # type: ignore[attr-defined]

        async def finish(item: tuple[EventT[Any], dict[str, Any]], outcome: str) -> None:
            if outcome == DROPPED:
                record = item[1]
                log.warning(
                    "dropped trigger event %s of %s/%s: policy %s holds its maximum_capacity",
                    record["event_id"],
                    record["realm"],
                    record["trigger_name"],
                    record["policy"] or "(default)",
                )
                self._count(DROPPED)
            await manual.ack(item[0])

        lanes: Lanes[tuple[EventT[Any], dict[str, Any]]] = Lanes(lambda item: self._deliver(item[1]), finish)
        try:
            async for event in manual.events():
                await lanes.room(MAX_BACKLOG)
                try:
                    record = self._codec.decode(event.value)
                except RecordError as exc:
                    log.error("skipping an undecodable trigger event: %s", exc)
                    self._count("undecodable")
                    await manual.ack(event)
                    continue
                policy = await self._catalog.policy(record["realm"], record["policy"])
                lanes.put(
                    (record["realm"], policy.name),
                    (event, record),
                    capacity=policy.maximum_capacity,
                    prefetch=policy.prefetch_count,
                )
        finally:
            lanes.cancel()

    async def deliver(self, data: bytes) -> str:
        """Deliver one encoded TriggerEvent until its final outcome, which it returns."""
        try:
            record = self._codec.decode(data)
        except RecordError as exc:
            log.error("skipping an undecodable trigger event: %s", exc)
            return self._count("undecodable")
        return await self._deliver(record)

    async def _deliver(self, record: dict[str, Any]) -> str:
        realm, name = record["realm"], record["trigger_name"]
        trigger = self._catalog.trigger(realm, name)
        if trigger is None:
            return self._count("trigger_deleted")
        policy = await self._catalog.policy(realm, record["policy"])
        enqueued_us = int(record["fields"].get(ENQUEUED_AT, record["timestamp"]))
        attempt = 1
        while True:
            age_s = max(0.0, time.time() - enqueued_us / 1e6)
            if is_expired(policy, age_s):
                await self._dead(record, f"event_ttl {policy.event_ttl}s passed")
                return self._count("dead_letter")
            timeout = self._timeout_s
            if policy.event_ttl is not None:  # a request never outlives the event
                timeout = max(0.05, min(timeout, policy.event_ttl - age_s))
            outcome = await self._request(realm, trigger.action, record, timeout)
            age_s = max(0.0, time.time() - enqueued_us / 1e6)
            decision = decide(policy, outcome, attempt, age_s)
            if decision.action is Action.DONE:
                return self._count("delivered")
            if decision.action is Action.DISCARD:
                log.info("discarded trigger event %s: %s", record["event_id"], decision.reason)
                return self._count("discarded")
            if decision.action is Action.DEAD_LETTER:
                await self._dead(record, decision.reason)
                return self._count("dead_letter")
            self._count("retried")
            await asyncio.sleep(decision.after_s)
            attempt += 1

    async def _request(
        self, realm: str, action: HttpAction, record: dict[str, Any], timeout_s: float
    ) -> Outcome:
        content, content_type = render(action, record)
        headers = {**action.http_static_headers, "Astarte-Realm": realm, "Content-Type": content_type}
        started = time.perf_counter()
        try:
            answer = await self._clients[not action.ignore_ssl_errors].request(
                action.http_method.value.upper(),
                action.http_url,
                content=content,
                headers=headers,
                timeout=timeout_s,
            )
        except httpx.HTTPError as exc:
            log.info("trigger %s: request to %s failed: %r", record["trigger_name"], action.http_url, exc)
            return "transport_error"
        finally:
            metrics.trigger_delivery_seconds.observe(time.perf_counter() - started)
        return answer.status_code

    async def _dead(self, record: dict[str, Any], reason: str) -> None:
        log.warning("dead-lettering trigger event %s: %s", record["event_id"], reason)
        dead = {**record, "fields": {**record["fields"], REASON: reason}}
        encoded = self._codec.encode(dead)
        key = f"{record['realm']}/{record['trigger_name']}".encode()
        await self._producer.send_and_wait(self._dlq, encoded, key=key)
        letter = DeadLetter(
            record["realm"],
            record["event_id"],
            record["trigger_name"],
            reason,
            encoded,
            time.time_ns() // 1000,
        )
        backoff = 0.1
        while True:
            try:
                await self._book.add_dead_letter(letter)
                return
            except Exception as exc:  # the registry's driver errors vary; all mean "try again"
                log.warning("could not keep dead letter %s, retrying: %r", record["event_id"], exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    @staticmethod
    def _count(outcome: str) -> str:
        metrics.trigger_deliveries.labels(outcome).inc()
        return outcome
