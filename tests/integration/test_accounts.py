"""Users, memberships, API keys and realm settings in the registry, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from pipeline.errors import ConflictError, NotFoundError, ValidationError
from pipeline.registry import Accounts, Registry
from pipeline.registry.accounts import now_us
from pipeline.registry.tables import users
from schemas.names import random_device_id


async def test_passwords_are_argon2_hashes_and_only_the_right_one_passes(registry: Registry) -> None:
    accounts = Accounts(registry)
    await accounts.create_user("ada", "correct horse", "developer")

    assert await accounts.check_password("ada", "correct horse") == "developer"
    assert await accounts.check_password("ada", "wrong horse!") is None
    assert await accounts.check_password("bob", "correct horse") is None
    async with registry.engine.connect() as conn:
        stored = (await conn.execute(users.select())).one().password_hash
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored


@pytest.mark.parametrize(
    ("username", "password", "role"),
    [("ada", "short", "developer"), ("ada", "long enough", "root"), ("a b", "long enough", "admin")],
)
async def test_bad_users_are_refused(registry: Registry, username: str, password: str, role: str) -> None:
    with pytest.raises(ValidationError):
        await Accounts(registry).create_user(username, password, role)


async def test_a_user_exists_once(registry: Registry) -> None:
    accounts = Accounts(registry)
    await accounts.create_user("ada", "long enough")
    with pytest.raises(ConflictError):
        await accounts.create_user("ada", "other password")


async def test_memberships_give_roles_and_go_with_the_realm(registry: Registry) -> None:
    accounts = Accounts(registry)
    await registry.create_realm("acme")
    await registry.create_realm("beta")
    await accounts.create_user("ada", "long enough")
    await accounts.set_member("acme", "ada", "viewer")
    await accounts.set_member("acme", "ada", "editor")
    await accounts.set_member("beta", "ada", "owner")

    assert await accounts.roles("ada") == {"acme": "editor", "beta": "owner"}
    assert await accounts.members("acme") == {"ada": "editor"}
    with pytest.raises(ValidationError):
        await accounts.set_member("acme", "ada", "superuser")
    with pytest.raises(NotFoundError):
        await accounts.set_member("acme", "nobody", "viewer")
    with pytest.raises(NotFoundError):
        await accounts.set_member("gamma", "ada", "viewer")
    await registry.delete_realm("beta")
    assert await accounts.roles("ada") == {"acme": "editor"}
    await accounts.remove_member("acme", "ada")
    assert await accounts.roles("ada") == {}


async def test_a_key_speaks_for_its_user_in_its_realm_only(registry: Registry) -> None:
    accounts = Accounts(registry)
    await registry.create_realm("acme")
    await registry.create_realm("beta")
    await accounts.create_user("ada", "long enough")
    await accounts.set_member("acme", "ada", "admin")
    await accounts.set_member("beta", "ada", "viewer")
    scoped, _ = await accounts.create_api_key("cli", username="ada", realm="acme")
    unscoped, _ = await accounts.create_api_key("all", username="ada")

    who = await accounts.principal(scoped)
    everywhere = await accounts.principal(unscoped)

    assert who is not None and everywhere is not None
    assert (who.username, who.global_role) == ("ada", "developer")
    assert (who.role_in("acme"), who.role_in("beta")) == ("admin", None)
    assert (everywhere.role_in("acme"), everywhere.role_in("beta")) == ("admin", "viewer")
    assert await accounts.principal("hwk_nope") is None


async def test_keys_are_listed_with_status_and_last_use(registry: Registry) -> None:
    accounts = Accounts(registry)
    await accounts.create_user("ada", "long enough")
    live, live_record = await accounts.create_api_key("live", username="ada")
    _, old = await accounts.create_api_key("old", username="ada", expires_at=now_us() - 1)
    gone, gone_record = await accounts.create_api_key("gone", username="ada")
    await accounts.revoke_api_key(gone_record.id)

    assert await accounts.verify_api_key(live) is not None
    assert await accounts.verify_api_key(gone) is None
    listed = {record.id: record for record in await accounts.api_keys(username="ada")}
    now = now_us()
    assert {i: r.status(now) for i, r in listed.items()} == {
        live_record.id: "active",
        old.id: "expired",
        gone_record.id: "revoked",
    }
    assert listed[live_record.id].last_used_at is not None
    assert listed[old.id].last_used_at is None
    with pytest.raises(NotFoundError):
        await accounts.revoke_api_key("missing")


async def test_bootstrap_keys_keep_working_through_the_registry(registry: Registry) -> None:
    key, record = await registry.create_api_key("admin", global_role="admin")
    who = await registry.accounts.principal(key)

    assert who is not None and who.id == record.id
    assert who.global_role == "admin" and who.role_in("anything") == "owner"


async def test_realm_settings_change_and_clear(registry: Registry) -> None:
    await registry.create_realm("acme", "PEM")
    changed = await registry.update_realm(
        "acme", device_registration_limit=10, datastream_maximum_storage_retention=3600
    )
    cleared = await registry.update_realm("acme", jwt_public_key_pem=None)

    assert (changed.device_registration_limit, changed.datastream_maximum_storage_retention) == (10, 3600)
    assert cleared.jwt_public_key_pem is None and cleared.device_registration_limit == 10
    await registry.delete_realm("acme")
    with pytest.raises(NotFoundError):
        await registry.get_realm("acme")


async def test_an_older_registry_gets_the_new_columns(tmp_path: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/old.db"
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE api_keys (id VARCHAR(32) PRIMARY KEY, key_hash VARCHAR(64) NOT NULL UNIQUE,"
                " name VARCHAR(128) NOT NULL, global_role VARCHAR(16), created_at BIGINT NOT NULL,"
                " expires_at BIGINT, revoked_at BIGINT)"
            )
        )
    await engine.dispose()

    async with Registry(url) as registry:
        key, _ = await registry.create_api_key("admin", global_role="admin")
        assert await registry.verify_api_key(key) is not None


async def test_a_realm_registers_devices_up_to_its_limit(registry: Registry) -> None:
    await registry.create_realm("acme")
    await registry.update_realm("acme", device_registration_limit=1)
    first = random_device_id()
    await registry.register_device("acme", first)

    await registry.register_device("acme", first)  # renewing a secret is no new device
    with pytest.raises(ValidationError, match="device_registration_limit"):
        await registry.register_device("acme", random_device_id())


async def test_a_registry_missing_columns_gets_them_when_opened(registry: Registry) -> None:
    async with registry.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE api_keys DROP COLUMN last_used_at"))
        await conn.execute(text("ALTER TABLE realms DROP COLUMN device_registration_limit"))

    async with Registry(registry.url) as reopened:
        key, _ = await reopened.create_api_key("admin", global_role="admin")
        assert await reopened.verify_api_key(key) is not None
        await reopened.create_realm("acme")
        assert (
            await reopened.update_realm("acme", device_registration_limit=3)
        ).device_registration_limit == 3
