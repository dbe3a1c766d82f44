"""The registry on SQLite and PostgreSQL: realms, interfaces, devices, API keys."""

from __future__ import annotations

import time

import pytest

from pipeline.errors import ConflictError, NotFoundError
from pipeline.registry import Registry
from schemas.interface import parse_interface
from tests.helpers import random_device_id, temperature_interface


async def test_realms_are_created_once(registry: Registry) -> None:
    await registry.create_realm("acme", "PEM")

    with pytest.raises(ConflictError, match="acme"):
        await registry.create_realm("acme")
    with pytest.raises(NotFoundError):
        await registry.get_realm("nowhere")
    assert (await registry.get_realm("acme")).jwt_public_key_pem == "PEM"
    assert await registry.list_realms() == ["acme"]


async def test_interfaces_install_once_per_major(registry: Registry) -> None:
    await registry.create_realm("acme")
    interface = parse_interface(temperature_interface())
    await registry.install_interface("acme", interface)

    with pytest.raises(ConflictError, match=r"org\.acme\.Temperature v0"):
        await registry.install_interface("acme", interface)
    with pytest.raises(NotFoundError):
        await registry.install_interface("nowhere", interface)
    assert await registry.get_interface("acme", "org.acme.Temperature", 0) == interface
    assert [(realm, i.name) for realm, i in await registry.interfaces()] == [("acme", "org.acme.Temperature")]


async def test_devices_authenticate_with_their_secret_only(registry: Registry) -> None:
    await registry.create_realm("acme")
    device = random_device_id()
    first = await registry.register_device("acme", device)
    renewed = await registry.register_device("acme", device)

    assert renewed != first
    assert await registry.authenticate_device("acme", device, renewed)
    assert not await registry.authenticate_device("acme", device, first)
    assert not await registry.authenticate_device("acme", random_device_id(), renewed)
    assert not await registry.authenticate_device("other", device, renewed)
    assert (await registry.get_device("acme", device)).first_credentials_request is None


async def test_api_keys_verify_until_they_expire(registry: Registry) -> None:
    key, record = await registry.create_api_key("admin", global_role="admin")
    expired, _ = await registry.create_api_key("old", expires_at=time.time_ns() // 1000 - 1)

    verified = await registry.verify_api_key(key)

    assert verified is not None and verified.id == record.id and verified.global_role == "admin"
    assert await registry.verify_api_key(expired) is None
    assert await registry.verify_api_key(key + "x") is None


async def test_a_draft_interface_in_a_devices_introspection_is_not_deleted(registry: Registry) -> None:
    from pipeline.registry.status import DeviceStatusBook

    await registry.create_realm("acme")
    await registry.install_interface("acme", parse_interface(temperature_interface()))
    device = random_device_id()
    await registry.register_device("acme", device)
    book = DeviceStatusBook(registry)

    def introspection(text: str) -> dict[str, object]:
        return {
            "realm": "acme",
            "device_id": device,
            "type": "incoming_introspection",
            "timestamp": 1,
            "metadata": {"introspection": text},
        }

    await book.apply(introspection("org.acme.Temperature:0:1;org.acme.Other:1:0"))
    with pytest.raises(ConflictError, match="in use"):
        await registry.delete_interface("acme", "org.acme.Temperature", 0)
    await book.apply(introspection("org.acme.Other:1:0"))
    await registry.delete_interface("acme", "org.acme.Temperature", 0)

    assert await registry.interfaces("acme") == []


async def test_a_draft_interface_watched_by_a_trigger_is_not_deleted(registry: Registry) -> None:
    from pipeline.registry.triggers import TriggerBook

    await registry.create_realm("acme")
    await registry.install_interface("acme", parse_interface(temperature_interface()))
    book = TriggerBook(registry)
    await book.install_trigger(
        "acme",
        {
            "name": "too_hot",
            "action": {"http_url": "http://127.0.0.1:9/hook", "http_method": "post"},
            "simple_triggers": [
                {
                    "type": "data_trigger",
                    "on": "incoming_data",
                    "interface_name": "org.acme.Temperature",
                    "interface_major": 0,
                    "match_path": "/*",
                    "value_match_operator": "*",
                }
            ],
        },
    )

    with pytest.raises(ConflictError, match="too_hot"):
        await registry.delete_interface("acme", "org.acme.Temperature", 0)
    await book.delete_trigger("acme", "too_hot")
    await registry.delete_interface("acme", "org.acme.Temperature", 0)

    assert await registry.interfaces("acme") == []
