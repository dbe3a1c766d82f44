"""GET and replay /realmmanagement/v1/{realm}/dead-letters over chDB, SQLite and Tansu."""

from __future__ import annotations

import base64
from typing import Any

import bson

from pipeline import kafka
from pipeline.registry import Accounts, Registry
from pipeline.settings import KafkaSettings
from pipeline.store.clickhouse import ClickHouseStore
from pipeline.store.dead_letters import letter_columns
from schemas.interface import parse_interface
from schemas.records import ingest_batches
from tests.helpers import eventually, random_device_id, temperature_interface
from tests.integration.serving import serving

T0 = 1_700_000_000_000_000
SECOND = 1_000_000
URL = "/realmmanagement/v1/acme/dead-letters"


def _letter(device: str, at: int, topic_tail: str, payload: bytes, reason: str) -> dict[str, Any]:
    return {
        "received_at": at,
        "broker_id": "broker-1",
        "realm": "acme",
        "device_id": device,
        "topic": f"acme/{device}/{topic_tail}",
        "qos": 1,
        "payload": payload,
        "reason": reason,
        "detail": f"{reason} detail",
    }


async def _letters(store: ClickHouseStore, device: str, other: str) -> None:
    records = [
        _letter(
            device,
            T0,
            "org.acme.Temperature/s1/value",
            bson.encode({"v": 21.5}),
            "interface_loading_failed",
        ),
        _letter(
            device, T0 + SECOND, "org.acme.Temperature/s1/value", b'{"v": "warm"}', "unexpected_value_type"
        ),
        _letter(other, T0 + 2 * SECOND, "org.acme.Temperature/s2/value", b"\x00\x01", "invalid_bson"),
    ]
    await store.insert_dead_letters(letter_columns(records))
    await store.insert_dead_letters(letter_columns(records[:1]))  # a redelivered record: listed once


async def test_dead_letters_are_listed_newest_first_with_filters(
    registry: Registry, store: ClickHouseStore, kafka_settings: KafkaSettings
) -> None:
    device, other = random_device_id(), random_device_id()
    async with serving(registry, store, kafka_settings, "acme") as (http, _):
        await _letters(store, device, other)

        everything = await http.get(URL)
        mine = await http.get(URL, params={"device_id": device})
        later = await http.get(URL, params={"since": "2023-11-14T22:13:21Z", "limit": 1})
        unknown = await http.get("/realmmanagement/v1/nowhere/dead-letters")
        malformed = await http.get(URL, params={"since": "yesterday"})

    assert everything.status_code == 200, everything.text
    data = everything.json()["data"]
    assert [(d["device_id"], d["reason"]) for d in data] == [
        (other, "invalid_bson"),
        (device, "unexpected_value_type"),
        (device, "interface_loading_failed"),
    ]
    first = data[2]
    assert first["interface"] == "org.acme.Temperature" and first["path"] == "/s1/value"
    assert first["received_at"] == "2023-11-14T22:13:20.000Z"
    assert base64.b64decode(first["payload"]) == bson.encode({"v": 21.5})
    assert first["detail"] == "interface_loading_failed detail" and first["replayed_at"] is None
    assert data[1]["payload_text"] == '{"v": "warm"}'
    assert data[0]["payload_text"] is None
    assert [d["reason"] for d in mine.json()["data"]] == ["unexpected_value_type", "interface_loading_failed"]
    assert [d["device_id"] for d in later.json()["data"]] == [other]
    assert unknown.status_code == 404
    assert malformed.status_code == 400


async def test_replay_validates_again_and_sends_what_passes_to_ingest(
    registry: Registry, store: ClickHouseStore, kafka_settings: KafkaSettings
) -> None:
    device, other = random_device_id(), random_device_id()
    topics = await kafka.ensure_topics(kafka_settings)
    consumer = kafka.consumer(kafka_settings, topics.ingest, group_id=None)
    await consumer.start()
    try:
        async with serving(registry, store, kafka_settings, "acme") as (http, _):
            await registry.register_device("acme", device, {"org.acme.Temperature": (0, 1)})
            await _letters(store, device, other)
            # Refused because the interface was missing: installed now, so the letter passes.
            await registry.install_interface("acme", parse_interface(temperature_interface()))

            answer = await http.post(f"{URL}/replay", json={"data": {"device_id": device}})
            again = await http.post(f"{URL}/replay", json={"data": {"device_id": device}})
            listed = (await http.get(URL, params={"device_id": device})).json()["data"]
            stranger = await http.post(f"{URL}/replay", json={"data": {"device_id": other}})
            bad = await http.post(f"{URL}/replay", json={"data": {"ids": ["x"]}})

        readings = await eventually(lambda: _readings(consumer), within=20)
    finally:
        await consumer.stop()

    assert answer.status_code == 200, answer.text
    result = answer.json()["data"]
    assert result["replayed"] == 1
    # JSON {"v": "warm"} is still no double: validation refuses it again, with Astarte's reason.
    assert [r["reason"] for r in result["refused"]] == ["unexpected_value_type"]
    assert again.json()["data"] == {"replayed": 0, "refused": result["refused"]}
    assert [(r["device_id"], r["interface"], r["path"], r["value"]) for r in readings] == [
        (device, "org.acme.Temperature", "/s1/value", 21.5)
    ]
    assert readings[0]["reception_timestamp"] == T0
    replayed = {d["reason"]: d["replayed_at"] for d in listed}
    assert replayed["interface_loading_failed"] is not None
    assert replayed["unexpected_value_type"] is None
    assert stranger.json()["data"]["refused"][0]["reason"] == "device_not_found"
    assert bad.status_code == 400


async def _readings(consumer: Any) -> list[dict[str, Any]]:
    batches = await consumer.getmany(timeout_ms=200)
    return [
        r
        for records in batches.values()
        for m in records
        for r in ingest_batches().decode(m.value)["readings"]
    ]


async def test_a_realm_viewer_may_list_but_not_replay(
    registry: Registry, store: ClickHouseStore, kafka_settings: KafkaSettings
) -> None:
    accounts = Accounts(registry)
    await accounts.create_user("ada", "long enough", "developer")
    async with serving(registry, store, kafka_settings, "acme", admin_headers=False) as (http, _):
        await accounts.set_member("acme", "ada", "viewer")
        key, _ = await accounts.create_api_key("t", username="ada")
        viewer = {"Authorization": f"Bearer {key}"}
        await _letters(store, random_device_id(), random_device_id())

        listed = await http.get(URL, headers=viewer)
        replayed = await http.post(f"{URL}/replay", json={"data": {}}, headers=viewer)
        anonymous = await http.get(URL)

    assert listed.status_code == 200 and len(listed.json()["data"]) == 3
    assert replayed.status_code == 403
    assert anonymous.status_code == 401
