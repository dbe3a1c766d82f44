"""Housekeeping JWTs: signed with the installation's housekeeping key, judged by their ``a_ha`` claims."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from pipeline.api import tokens
from pipeline.registry import Registry
from pipeline.settings import AuthSettings, KafkaSettings
from pipeline.store.clickhouse import ClickHouseStore
from tests.integration.serving import serving
from tests.unit.auth.test_auth_tokens import keypair

PRIVATE, PUBLIC = keypair()


def bearer(claims: dict[str, object], private: str = PRIVATE) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.make(private, claims)}"}


@pytest.fixture
async def http(
    registry: Registry, store: ClickHouseStore, kafka_settings: KafkaSettings, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    public = tmp_path / "housekeeping_public.pem"
    public.write_text(PUBLIC)
    auth = AuthSettings(housekeeping_jwt_public_key_path=public)
    async with serving(registry, store, kafka_settings, admin_headers=False, auth=auth) as (client, _):
        yield client


async def test_a_housekeeping_jwt_creates_and_lists_realms_as_its_claims_allow(
    http: httpx.AsyncClient,
) -> None:
    full = bearer({"a_ha": [".*::.*"]})
    reader = bearer({"a_ha": ["GET::realms.*"]})

    created = await http.post("/housekeeping/v1/realms", json={"data": {"realm_name": "acme"}}, headers=full)
    listed = await http.get("/housekeeping/v1/realms", headers=reader)
    shown = await http.get("/housekeeping/v1/realms/acme", headers=reader)
    refused = await http.delete("/housekeeping/v1/realms/acme", headers=reader)

    assert created.status_code == 201, created.text
    assert listed.json()["data"] == ["acme"] and shown.status_code == 200
    assert refused.status_code == 403 and "do not allow" in refused.json()["errors"]["detail"]


async def test_housekeeping_jwts_need_the_housekeeping_key_and_stay_in_housekeeping(
    http: httpx.AsyncClient,
) -> None:
    forged = bearer({"a_ha": [".*::.*"]}, keypair()[0])
    realm_claims_only = bearer({"a_aea": [".*::.*"]})
    everything = bearer({"a_ha": [".*::.*"], "a_aea": [".*::.*"]})
    await http.post("/housekeeping/v1/realms", json={"data": {"realm_name": "acme"}}, headers=everything)

    wrong_key = await http.get("/housekeeping/v1/realms", headers=forged)
    no_claim = await http.get("/housekeeping/v1/realms", headers=realm_claims_only)
    # acme has no jwt_public_key_pem: the housekeeping key does not open a realm's API sets.
    appengine = await http.get("/appengine/v1/acme/devices", headers=everything)

    assert wrong_key.status_code == 401
    assert no_claim.status_code == 403
    assert appengine.status_code == 401 and "jwt_public_key_pem" in appengine.json()["errors"]["detail"]


async def test_without_a_housekeeping_key_housekeeping_jwts_are_refused_with_the_setting_to_use(
    registry: Registry, store: ClickHouseStore, kafka_settings: KafkaSettings
) -> None:
    async with serving(registry, store, kafka_settings, admin_headers=False) as (client, _):
        answer = await client.get("/housekeeping/v1/realms", headers=bearer({"a_ha": [".*::.*"]}))

    assert answer.status_code == 401
    assert "HOUSEKEEPING_JWT_PUBLIC_KEY_PATH" in answer.json()["errors"]["detail"]
