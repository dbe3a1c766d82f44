"""Login, whoami, API keys, members and realms through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pipeline import kafka
from pipeline.api import Platform, create_app, tokens
from pipeline.registry import Registry
from pipeline.settings import KafkaSettings
from pipeline.store.clickhouse import ClickHouseStore
from tests.unit.auth.test_auth_tokens import keypair


@dataclass
class Api:
    http: httpx.AsyncClient
    admin: dict[str, str]

    async def login(self, username: str, realm: str | None = "acme", password: str = "long enough") -> str:
        data = {"username": username, "password": password, "realm": realm}
        answer = await self.http.post("/auth/v1/login", json={"data": data})
        assert answer.status_code == 201, answer.text
        key: str = answer.json()["data"]["key"]
        return key

    async def user(self, username: str, role: str | None = None, global_role: str = "developer") -> None:
        data = {"username": username, "password": "long enough", "global_role": global_role}
        assert (
            await self.http.post("/auth/v1/users", json={"data": data}, headers=self.admin)
        ).status_code == 201
        if role:
            member = await self.http.put(
                f"/auth/v1/realms/acme/members/{username}", json={"data": {"role": role}}, headers=self.admin
            )
            assert member.status_code == 200, member.text


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def api(
    registry: Registry, store: ClickHouseStore, kafka_settings: KafkaSettings
) -> AsyncIterator[Api]:
    topics = await kafka.ensure_topics(kafka_settings)
    producer = kafka.producer(kafka_settings)
    await producer.start()
    try:
        platform = Platform(registry, store, producer, topics, "test", "mqtt://localhost:1883")
        key, _ = await registry.create_api_key("boot", global_role="admin")
        transport = httpx.ASGITransport(app=create_app(platform))
        async with httpx.AsyncClient(transport=transport, base_url="http://hw") as http:
            admin = bearer(key)
            created = await http.post(
                "/housekeeping/v1/realms", json={"data": {"realm_name": "acme"}}, headers=admin
            )
            assert created.status_code == 201
            yield Api(http, admin)
    finally:
        await producer.stop()


async def test_login_gives_a_30_day_key_that_whoami_describes(api: Api) -> None:
    await api.user("ada", "editor")
    answer = await api.http.post(
        "/auth/v1/login", json={"data": {"username": "ada", "password": "long enough", "realm": "acme"}}
    )
    body = answer.json()["data"]

    me = (await api.http.get("/auth/v1/whoami", headers={"X-API-KEY": body["key"]})).json()["data"]

    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert abs(expires - datetime.now(UTC) - timedelta(days=30)) < timedelta(minutes=1)
    assert me["username"] == "ada" and me["global_role"] == "developer"
    assert (me["realm"], me["roles"], me["key_id"]) == ("acme", {"acme": "editor"}, body["id"])


async def test_a_wrong_password_or_a_foreign_realm_gets_no_key(api: Api) -> None:
    await api.user("ada", "viewer")
    await api.http.post("/housekeeping/v1/realms", json={"data": {"realm_name": "beta"}}, headers=api.admin)

    wrong = await api.http.post("/auth/v1/login", json={"data": {"username": "ada", "password": "nope nope"}})
    foreign = await api.http.post(
        "/auth/v1/login", json={"data": {"username": "ada", "password": "long enough", "realm": "beta"}}
    )

    assert wrong.status_code == 401
    assert foreign.status_code == 403


async def test_keys_are_listed_masked_and_revoked(api: Api) -> None:
    await api.user("ada", "viewer")
    key = await api.login("ada")
    more = await api.http.post(
        "/auth/v1/apikeys", json={"data": {"name": "ci", "expiry_days": 1}}, headers=bearer(key)
    )
    extra = more.json()["data"]

    revoked = await api.http.delete(f"/auth/v1/apikeys/{extra['id']}", headers=bearer(key))
    listed = (await api.http.get("/auth/v1/apikeys", headers=bearer(key))).json()["data"]

    assert more.status_code == 201 and revoked.status_code == 204
    assert {item["name"]: item["status"] for item in listed} == {"login": "active", "ci": "revoked"}
    assert all(item["key"].endswith("_****") and item["key"] not in (key, extra["key"]) for item in listed)
    assert next(item for item in listed if item["name"] == "login")["last_used_at"] is not None
    assert (await api.http.get("/auth/v1/whoami", headers=bearer(extra["key"]))).status_code == 401


async def test_only_global_admins_make_permanent_keys_and_users(api: Api) -> None:
    await api.user("ada", "owner")
    await api.user("root", global_role="admin")
    ada, root = await api.login("ada"), await api.login("root", realm=None)
    permanent = {"data": {"permanent": True}}
    newcomer = {"data": {"username": "eve", "password": "long enough", "global_role": "admin"}}

    assert (await api.http.post("/auth/v1/apikeys", json=permanent, headers=bearer(ada))).status_code == 403
    forever = await api.http.post("/auth/v1/apikeys", json=permanent, headers=bearer(root))
    assert forever.status_code == 201 and forever.json()["data"]["expires_at"] is None
    assert (await api.http.post("/auth/v1/users", json=newcomer, headers=bearer(ada))).status_code == 403
    assert (await api.http.post("/auth/v1/users", json=newcomer, headers=bearer(root))).status_code == 201


async def test_realm_admins_manage_members_but_not_owners(api: Api) -> None:
    await api.user("boss", "admin")
    await api.user("ada")
    boss = bearer(await api.login("boss"))

    editor = await api.http.put(
        "/auth/v1/realms/acme/members/ada", json={"data": {"role": "editor"}}, headers=boss
    )
    owner = await api.http.put(
        "/auth/v1/realms/acme/members/ada", json={"data": {"role": "owner"}}, headers=boss
    )
    members = (await api.http.get("/auth/v1/realms/acme/members", headers=boss)).json()["data"]

    assert editor.status_code == 200 and owner.status_code == 403
    assert members == {"boss": "admin", "ada": "editor"}


async def test_realms_have_rules_settings_and_owners(api: Api) -> None:
    create = {
        "realm_name": "beta",
        "device_registration_limit": 5,
        "datastream_maximum_storage_retention": 60,
    }
    made = await api.http.post("/housekeeping/v1/realms", json={"data": create}, headers=api.admin)
    reserved = await api.http.post(
        "/housekeeping/v1/realms", json={"data": {"realm_name": "system_x"}}, headers=api.admin
    )
    bad = await api.http.post(
        "/housekeeping/v1/realms", json={"data": {"realm_name": "Beta"}}, headers=api.admin
    )
    patched = await api.http.patch(
        "/housekeeping/v1/realms/beta", json={"data": {"device_registration_limit": None}}, headers=api.admin
    )

    assert made.status_code == 201 and made.json()["data"] == create
    assert reserved.status_code == 422 and bad.status_code == 422
    assert patched.json()["data"] == {"realm_name": "beta", "datastream_maximum_storage_retention": 60}
    await api.user("ada", "viewer")
    ada = bearer(await api.login("ada", realm=None))
    assert (await api.http.get("/housekeeping/v1/realms", headers=ada)).json()["data"] == ["acme"]
    assert (await api.http.get("/housekeeping/v1/realms/beta", headers=ada)).status_code == 403
    assert (await api.http.delete("/housekeeping/v1/realms/beta", headers=api.admin)).status_code == 204
    assert (await api.http.get("/housekeeping/v1/realms/beta", headers=api.admin)).status_code == 404


async def test_the_realm_jwt_key_is_read_by_viewers_and_set_by_owners(api: Api) -> None:
    await api.user("ada", "viewer")
    await api.user("olga", "owner")
    ada, olga = bearer(await api.login("ada")), bearer(await api.login("olga"))
    pem = {"data": {"jwt_public_key_pem": "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n"}}

    assert (
        await api.http.put("/realmmanagement/v1/acme/config/auth", json=pem, headers=ada)
    ).status_code == 403
    assert (
        await api.http.put("/realmmanagement/v1/acme/config/auth", json=pem, headers=olga)
    ).status_code == 204
    read = await api.http.get("/realmmanagement/v1/acme/config/auth", headers=ada)
    assert read.json() == pem


async def test_astarte_jwts_signed_with_the_realm_key_are_judged_by_their_claims(api: Api) -> None:
    private, public = keypair()
    pem = {"data": {"jwt_public_key_pem": public}}
    assert (
        await api.http.put("/realmmanagement/v1/acme/config/auth", json=pem, headers=api.admin)
    ).status_code == 204
    reader = bearer(tokens.make(private, {"a_aea": ["GET::devices.*"], "sub": "grafana"}))
    forged = bearer(tokens.make(keypair()[0], {"a_aea": [".*::.*"]}))

    listed = await api.http.get("/appengine/v1/acme/devices", headers=reader)
    no_claim = await api.http.get("/realmmanagement/v1/acme/interfaces", headers=reader)
    wrong_key = await api.http.get("/appengine/v1/acme/devices", headers=forged)
    not_realm = await api.http.get("/auth/v1/whoami", headers=reader)

    assert listed.status_code == 200, listed.text
    assert no_claim.status_code == 403
    assert wrong_key.status_code == 401 and not_realm.status_code == 401


_OTHER_REALM_READS = (
    "/housekeeping/v1/realms/beta",
    "/appengine/v1/beta/devices",
    "/appengine/v1/beta/devices/AAAAAAAAAAAAAAAAAAAAAA",
    "/appengine/v1/beta/devices/AAAAAAAAAAAAAAAAAAAAAA/interfaces/org.acme.Sensor/v",
    "/appengine/v1/beta/devices/AAAAAAAAAAAAAAAAAAAAAA/events",
    "/appengine/v1/beta/sql?query=SELECT%201",
    "/appengine/v1/beta/stats/devices",
    "/realmmanagement/v1/beta/interfaces",
    "/realmmanagement/v1/beta/triggers",
    "/beta/clients",
    "/auth/v1/realms/beta/members",
    "/auth/v1/realms/nosuchrealm/members",
    "/appengine/v1/nosuchrealm/devices",
    "/auth/v1/users",
)


@pytest.mark.parametrize("issuer", ["bootstrap key", "global admin user"])
async def test_a_key_for_one_realm_is_bounded_by_it_whoever_issued_it(api: Api, issuer: str) -> None:
    await api.http.post("/housekeeping/v1/realms", json={"data": {"realm_name": "beta"}}, headers=api.admin)
    if issuer == "bootstrap key":
        issuing = api.admin
    else:
        await api.user("root", global_role="admin")
        issuing = bearer(await api.login("root", realm=None))
    made = await api.http.post("/auth/v1/apikeys", json={"data": {"realm": "acme"}}, headers=issuing)
    assert made.status_code == 201 and made.json()["data"]["realm"] == "acme"
    limited = bearer(made.json()["data"]["key"])

    realms = await api.http.get("/housekeeping/v1/realms", headers=limited)
    own = await api.http.get("/appengine/v1/acme/devices", headers=limited)
    others = {url: (await api.http.get(url, headers=limited)).status_code for url in _OTHER_REALM_READS}
    beta_key = await api.http.post("/auth/v1/apikeys", json={"data": {"realm": "beta"}}, headers=limited)
    permanent = await api.http.post("/auth/v1/apikeys", json={"data": {"permanent": True}}, headers=limited)
    new_realm = await api.http.post(
        "/housekeeping/v1/realms", json={"data": {"realm_name": "gamma"}}, headers=limited
    )

    assert realms.json()["data"] == ["acme"]
    assert own.status_code == 200, own.text
    assert others == dict.fromkeys(_OTHER_REALM_READS, 403)
    assert (beta_key.status_code, permanent.status_code, new_realm.status_code) == (403, 403, 403)
