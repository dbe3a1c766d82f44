"""Callers are authenticated before anything is looked up: 401 and 403 never tell what exists."""

from __future__ import annotations

import pytest

from pipeline.registry import Accounts
from pipeline.registry.metadata import DeviceMetadata
from tests.helpers import random_device_id
from tests.integration import test_store_appengine as base
from tests.integration.test_store_appengine import Api

api = base.api  # the app on chDB and SQLite, with one device
AE = "/appengine/v1/acme"
READ = "/interfaces/org.acme.Types/v/double"


async def _keys(api: Api) -> dict[str, dict[str, str]]:
    registry = api.client._transport.app.state.platform.registry  # type: ignore[attr-defined]
    await DeviceMetadata(registry).patch("acme", api.device, aliases={"name": "boiler-7"})
    await registry.create_realm("beta")
    accounts = Accounts(registry)
    await accounts.create_user("stranger", "long enough", "developer")
    await accounts.set_member("beta", "stranger", "owner")
    stranger, _ = await accounts.create_api_key("t", username="stranger")
    return {
        "no key": {"Authorization": ""},
        "unknown key": {"Authorization": "Bearer hwk_0_nope"},
        "key of another realm": {"Authorization": f"Bearer {stranger}"},
    }


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
async def test_an_unknown_alias_answers_like_a_known_one_until_the_caller_is_allowed(
    api: Api, method: str
) -> None:
    keys = await _keys(api)
    body = {"data": 1.5} if method == "POST" else None

    answers = {
        (who, alias): (
            await api.client.request(
                method, f"{AE}/devices-by-alias/{alias}{READ}", json=body, headers=headers
            )
        ).status_code
        for who, headers in keys.items()
        for alias in ("boiler-7", "nobody")
    }
    admin_unknown = await api.client.request(method, f"{AE}/devices-by-alias/nobody{READ}", json=body)

    assert answers == {
        ("no key", "boiler-7"): 401,
        ("no key", "nobody"): 401,
        ("unknown key", "boiler-7"): 401,
        ("unknown key", "nobody"): 401,
        ("key of another realm", "boiler-7"): 403,
        ("key of another realm", "nobody"): 403,
    }
    assert admin_unknown.status_code == 404
    assert admin_unknown.json()["errors"]["detail"] == "no device has alias 'nobody' in realm 'acme'"


async def test_a_known_alias_still_reaches_the_device(api: Api) -> None:
    await _keys(api)
    await base.series(api, 3)

    answer = await api.client.get(f"{AE}/devices-by-alias/boiler-7{READ}")

    assert answer.status_code == 200, answer.text
    assert [entry["value"] for entry in answer.json()["data"]] == [0.0, 1.0, 2.0]


async def test_only_the_right_secret_learns_that_a_device_is_inhibited(api: Api) -> None:
    registry = api.client._transport.app.state.platform.registry  # type: ignore[attr-defined]
    device = random_device_id()
    secret = await registry.register_device("acme", device)
    await DeviceMetadata(registry).patch("acme", device, credentials_inhibited=True)
    url = f"/pairing/v1/acme/devices/{device}"

    guess = {"Authorization": "Bearer not-the-secret"}

    wrong = await api.client.get(url, headers=guess)
    stranger = await api.client.get(f"/pairing/v1/acme/devices/{random_device_id()}", headers=guess)
    right = await api.client.get(url, headers={"Authorization": f"Bearer {secret}"})

    assert (wrong.status_code, stranger.status_code) == (401, 401)
    assert all("wrong credentials secret" in a.json()["errors"]["detail"] for a in (wrong, stranger))
    assert right.status_code == 403 and "inhibited" in right.json()["errors"]["detail"]
