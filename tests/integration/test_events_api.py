"""GET /appengine/v1/{realm}/devices/{device_id}/events over the real store (chDB) and registry (SQLite)."""

from __future__ import annotations

from typing import Any

from pipeline.registry import Accounts
from pipeline.store.events import event_columns
from tests.helpers import random_device_id
from tests.integration import test_store_appengine as base
from tests.integration.test_store_appengine import T0, Api

api = base.api  # the app on chDB and SQLite, with one device
SECOND = 1_000_000
KINDS = (
    "device_registered",
    "device_connected",
    "incoming_introspection",
    "device_disconnected",
    "device_connected",
)


async def _events(api: Api) -> None:
    records: list[dict[str, Any]] = [
        {
            "timestamp": T0 + i * SECOND,
            "realm": "acme",
            "device_id": api.device,
            "type": kind,
            "ip_address": "10.0.0.7" if kind == "device_connected" else None,
            "error_name": None,
            "metadata": {},
        }
        for i, kind in enumerate(KINDS)
    ]
    other = {**records[0], "device_id": random_device_id()}
    # Stored twice, as a replay would: shown once.
    await api.store.insert_device_events(event_columns([*records, other]))
    await api.store.insert_device_events(event_columns(records))


def _url(api: Api) -> str:
    return f"/appengine/v1/acme/devices/{api.device}/events"


async def test_events_come_oldest_first_and_once(api: Api) -> None:
    await _events(api)

    answer = await api.client.get(_url(api))

    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert [e["type"] for e in data] == list(KINDS)
    assert data[1] == {
        "timestamp": "2023-11-14T22:13:21.000Z",
        "type": "device_connected",
        "ip_address": "10.0.0.7",
        "error_name": None,
        "metadata": {},
    }


async def test_since_to_and_limit(api: Api) -> None:
    await _events(api)

    async def types(**params: str) -> list[str]:
        answer = await api.client.get(_url(api), params=params)
        assert answer.status_code == 200, answer.text
        return [e["type"] for e in answer.json()["data"]]

    assert await types(limit="2") == ["device_disconnected", "device_connected"]
    assert await types(since="2023-11-14T22:13:23Z") == ["device_disconnected", "device_connected"]
    assert await types(since="2023-11-14T22:13:21Z", to="2023-11-14T22:13:23Z") == [
        "device_connected",
        "incoming_introspection",
    ]
    assert await types(since="2023-11-14T22:13:20Z", limit="1") == ["device_registered"]


async def test_bad_parameters_and_strangers_are_refused(api: Api) -> None:
    stranger = await api.client.get(f"/appengine/v1/acme/devices/{random_device_id()}/events")
    bad_time = await api.client.get(_url(api), params={"since": "yesterday"})
    bad_limit = await api.client.get(_url(api), params={"limit": "0"})

    assert stranger.status_code == 404
    assert bad_time.status_code == 400 and "since" in bad_time.json()["errors"]["detail"]
    assert bad_limit.status_code == 422


async def test_a_viewer_may_read_events(api: Api) -> None:
    await _events(api)
    registry = api.client._transport.app.state.platform.registry  # type: ignore[attr-defined]
    accounts = Accounts(registry)
    await accounts.create_user("ada", "long enough", "developer")
    await accounts.set_member("acme", "ada", "viewer")
    key, _ = await accounts.create_api_key("t", username="ada")

    answer = await api.client.get(_url(api), headers={"Authorization": f"Bearer {key}"})

    assert answer.status_code == 200 and len(answer.json()["data"]) == len(KINDS)
