"""The permission matrix, walked over every route of the app's OpenAPI document with every kind of caller.

The app runs on real components (registry on SQLite and PostgreSQL, chDB, Tansu);
each call gets a fresh realm, so a granted DELETE cannot disturb the next call.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from pipeline import kafka
from pipeline.api import Platform, create_app
from pipeline.permissions import Access, grants, required
from pipeline.registry import Accounts, Registry
from pipeline.settings import KafkaSettings
from pipeline.store.clickhouse import ClickHouseStore
from schemas.names import random_device_id

ROLES = ("owner", "admin", "editor", "viewer")
_PARAM = re.compile(r"\{(\w+)(?::path)?\}")


@dataclass(frozen=True)
class Who:
    """A kind of caller: its global role and its role in the realm the call concerns."""

    name: str
    username: str | None
    global_role: str | None
    realm_role: str | None
    key_realm: str | None = None  # the realm the key was issued for, if any


CALLERS = (
    Who("bootstrap admin key", None, "admin", "owner"),
    Who("global admin", "root", "admin", "owner"),
    Who("developer outside the realm", "outsider", "developer", None),
    *(Who(f"realm {role}", role, "developer", role) for role in ROLES),
    Who("owner with a key for another realm", "elsewhere", "developer", None, "other"),
    Who("global admin with a key for another realm", "away", "admin", None, "other"),
)


@pytest.fixture
async def client(
    registry: Registry, store: ClickHouseStore, kafka_settings: KafkaSettings
) -> AsyncIterator[httpx.AsyncClient]:
    topics = await kafka.ensure_topics(kafka_settings)
    producer = kafka.producer(kafka_settings)
    await producer.start()
    try:
        platform = Platform(registry, store, producer, topics, "matrix", "mqtt://localhost:1883")
        platform.ready = True
        transport = httpx.ASGITransport(app=create_app(platform))
        async with httpx.AsyncClient(transport=transport, base_url="http://hw") as http:
            yield http
    finally:
        await producer.stop()


async def _keys(registry: Registry) -> dict[str, str]:
    accounts = Accounts(registry)
    await registry.create_realm("other")
    keys = {"bootstrap admin key": (await accounts.create_api_key("boot", global_role="admin"))[0]}
    for who in CALLERS[1:]:
        assert who.username is not None and who.global_role is not None
        await accounts.create_user(who.username, "long enough", who.global_role)
        keys[who.name] = (await accounts.create_api_key("t", username=who.username, realm=who.key_realm))[0]
    await accounts.set_member("other", "elsewhere", "owner")
    await accounts.create_user("target", "long enough", "developer")
    return keys


async def _fresh_realm(registry: Registry, number: int) -> str:
    realm = f"walk{number}"
    accounts = Accounts(registry)
    await registry.create_realm(realm)
    for role in ROLES:
        await accounts.set_member(realm, role, role)
    await accounts.set_member(realm, "elsewhere", "owner")
    await accounts.set_member(realm, "target", "viewer")
    return realm


async def _url(registry: Registry, template: str, realm: str, who: Who) -> str:
    accounts = Accounts(registry)
    spare = (await accounts.create_api_key("spare", username=who.username, realm=who.key_realm))[1].id
    values = {
        "realm": realm,
        "name": realm if template.startswith("/housekeeping/") else "org.example.Missing",
        "domain_id": realm,
        "device_id": random_device_id(),
        "hw_id": random_device_id(),
        "interface": "org.example.Missing",
        "path": "a/b",
        "major": "0",
        "username": "target",
        "key_id": spare,
    }
    return _PARAM.sub(lambda m: values.get(m.group(1), "x"), template)


def _routes(app_paths: dict[str, dict[str, object]]) -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, methods in app_paths.items() for method in methods]


async def test_every_route_is_in_the_matrix_and_enforced(
    client: httpx.AsyncClient, registry: Registry
) -> None:
    routes = _routes((await client.get("/openapi.json")).json()["paths"])
    assert len(routes) >= 25
    unknown = [route for route in routes if required(*route) is None]
    assert unknown == [], "routes without a line in pipeline.permissions"
    keys = await _keys(registry)
    counter = itertools.count()
    problems: list[str] = []
    for method, template in routes:
        access = required(method, template)
        # Device routes check the secret in the handler, after the body: give them a well-formed one.
        fields = {"csr": "x", "client_crt": "x"} if access is Access.DEVICE else {}
        body = {"data": fields} if method in ("POST", "PUT", "PATCH") else None
        realm = await _fresh_realm(registry, next(counter))
        anonymous = await client.request(method, await _url(registry, template, realm, CALLERS[0]), json=body)
        if access is Access.PUBLIC:
            if anonymous.status_code in (401, 403):
                problems.append(f"{method} {template}: public but {anonymous.status_code}")
            continue
        if anonymous.status_code != 401:
            problems.append(f"{method} {template}: {anonymous.status_code} without credentials")
        if access is Access.DEVICE:
            continue
        for who in CALLERS:
            realm = await _fresh_realm(registry, next(counter))
            url = await _url(registry, template, realm, who)
            answer = await client.request(method, url, json=body, headers={"X-API-KEY": keys[who.name]})
            # A key issued for a realm acts in no other, whatever its user's global role.
            global_role = None if who.key_realm else who.global_role
            allowed = grants(access, global_role=global_role, realm_role=who.realm_role)
            if allowed == (answer.status_code in (401, 403)) or answer.status_code >= 500:
                problems.append(f"{method} {template} as {who.name}: {answer.status_code} {answer.text[:99]}")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("header", ["Authorization", "X-API-KEY"])
async def test_unknown_keys_are_401_in_either_header(client: httpx.AsyncClient, header: str) -> None:
    value = "Bearer hwk_0_nope" if header == "Authorization" else "hwk_0_nope"

    answer = await client.get("/housekeeping/v1/realms", headers={header: value})

    assert answer.status_code == 401
    assert answer.json()["errors"]["detail"] == "unknown, expired or revoked API key"
