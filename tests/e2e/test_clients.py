"""A Magistrala client made through ``/{domain_id}/clients`` connects over MQTT; disabling drops it."""

from __future__ import annotations

import uuid

from tests.e2e.conftest import Running, mqtt_connect

SECRET = "bb7edb32-2eac-4aad-aebe-ed96fe073879"


def test_a_client_connects_with_its_secret_until_disabled(platform: Running) -> None:
    domain = f"r{uuid.uuid4().hex[:8]}"
    with platform.client() as api:
        api.post("/housekeeping/v1/realms", json={"data": {"realm_name": domain}})
        created = api.post(
            f"/{domain}/clients",
            json={"name": "boiler", "credentials": {"identity": "b1", "secret": SECRET}, "status": "enabled"},
        )
        client_id = created.json()["id"]
        username = f"{domain}/{client_id}"

        first, accepted, dropped = mqtt_connect(platform, username, SECRET)
        disabled = api.post(f"/{domain}/clients/{client_id}/disable")
        was_dropped = dropped.wait(5)
        first.loop_stop()
        second, refused, _ = mqtt_connect(platform, username, SECRET)
        second.loop_stop()
        enabled = api.post(f"/{domain}/clients/{client_id}/enable")
        third, welcomed, _ = mqtt_connect(platform, username, SECRET)
        third.disconnect()
        third.loop_stop()

    assert created.status_code == 201 and created.json()["credentials"]["secret"] == SECRET
    assert not accepted.is_failure
    assert disabled.json()["status"] == "disabled"
    assert was_dropped
    assert refused.is_failure
    assert enabled.json()["status"] == "enabled"
    assert not welcomed.is_failure
