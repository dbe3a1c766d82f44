"""``headwater realm`` driven as an operator would."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.e2e.conftest import Running
from tests.e2e.test_interface_cli import headwater
from tests.unit.auth.test_auth_tokens import keypair


def test_realms_are_created_shown_updated_listed_and_deleted(platform: Running, tmp_path: Path) -> None:
    name = f"r{uuid.uuid4().hex[:8]}"
    public = tmp_path / "public.pem"
    public.write_text(keypair()[1])

    created = headwater(platform, "realm", "create", name, "--device-registration-limit", "5")
    updated = headwater(
        platform, "realm", "update", name, "--public-key", str(public),
        "--datastream-maximum-storage-retention", "3600",
    )  # fmt: skip
    shown = headwater(platform, "realm", "show", name, "-o", "json")
    listed = headwater(platform, "realm", "list", "-o", "json")
    bad = headwater(platform, "realm", "create", "Not-A-Name")
    nothing = headwater(platform, "realm", "update", name)
    deleted = headwater(platform, "realm", "delete", name, "--yes")
    gone = headwater(platform, "realm", "show", name)

    assert created.returncode == 0 and updated.returncode == 0, created.stderr + updated.stderr
    settings = json.loads(shown.stdout)
    assert settings["device_registration_limit"] == 5
    assert settings["datastream_maximum_storage_retention"] == 3600
    assert settings["jwt_public_key_pem"] == public.read_text()
    assert name in json.loads(listed.stdout)
    assert bad.returncode == 1 and "realm" in bad.stderr.lower()
    assert nothing.returncode == 1 and "nothing to change" in nothing.stderr
    assert deleted.returncode == 0 and gone.returncode == 1


def test_the_default_delivery_policy_is_set_shown_and_cleared(platform: Running, tmp_path: Path) -> None:
    name = f"r{uuid.uuid4().hex[:8]}"
    policy = tmp_path / "retrying.json"
    policy.write_text(
        json.dumps(
            {
                "name": "retrying",
                "error_handlers": [{"on": "any_error", "strategy": "retry"}],
                "maximum_capacity": 100,
                "retry_times": 3,
            }
        )
    )
    assert headwater(platform, "realm", "create", name).returncode == 0
    assert headwater(platform, "policy", "install", str(policy), "--realm", name).returncode == 0

    unset = headwater(platform, "policy", "default", "--realm", name)
    made = headwater(platform, "policy", "default", "retrying", "--realm", name)
    shown = headwater(platform, "policy", "default", "--realm", name)
    cleared = headwater(platform, "policy", "default", "--clear", "--realm", name)

    assert "none" in unset.stdout
    assert made.returncode == 0 and shown.stdout.strip() == "retrying"
    assert cleared.returncode == 0 and "none" in cleared.stdout
