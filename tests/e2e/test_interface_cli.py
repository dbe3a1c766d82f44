"""``headwater interface`` driven as a user would, against ``headwater up``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.e2e.conftest import Running

STANDARD = Path(__file__).parents[2] / "schemas" / "standard"


def headwater(platform: Running, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ) | {"HEADWATER_URL": platform.api, "HEADWATER_API_KEY": platform.key}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def _definition(minor: int, endpoints: list[str]) -> dict[str, object]:
    return {
        "interface_name": "org.acme.Cli",
        "version_major": 0,
        "version_minor": minor,
        "type": "datastream",
        "ownership": "device",
        "mappings": [{"endpoint": e, "type": "double"} for e in endpoints],
    }


def test_validate_is_offline_and_exits_1_with_reasons(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**_definition(0, ["/a"])}))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_definition(1, ["/a"])))

    ok = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "interface", "validate", str(good)],
        capture_output=True,
        text=True,
        check=False,
    )
    refused = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "interface", "validate", str(good), str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert ok.returncode == 0 and "org.acme.Cli v0.1" in ok.stdout
    assert refused.returncode == 1 and "bad.json" in refused.stderr and "version_minor" in refused.stderr


def test_install_list_show_update_sync_delete(platform: Running, tmp_path: Path) -> None:
    realm = f"r{uuid.uuid4().hex[:8]}"
    with platform.client() as client:
        assert client.post("/housekeeping/v1/realms", json={"data": {"realm_name": realm}}).status_code == 201
    first = tmp_path / "v1.json"
    first.write_text(json.dumps(_definition(1, ["/a"])))
    second = tmp_path / "v2.json"
    second.write_text(json.dumps(_definition(2, ["/a", "/b"])))

    installed = headwater(platform, "interface", "install", str(first), "--realm", realm)
    again = headwater(platform, "interface", "install", str(first), "--realm", realm)
    updated = headwater(platform, "interface", "update", str(second), "--realm", realm)
    shown = headwater(platform, "interface", "show", "org.acme.Cli", "--realm", realm)
    synced = headwater(platform, "interface", "sync", str(STANDARD), "--realm", realm)
    resynced = headwater(platform, "interface", "sync", str(STANDARD), "--realm", realm)
    listed = headwater(platform, "interface", "list", "--realm", realm, "-o", "json")
    deleted = headwater(platform, "interface", "delete", "org.acme.Cli", "0", "--realm", realm)
    after = headwater(platform, "interface", "list", "--realm", realm, "-o", "json")

    assert installed.returncode == 0, installed.stderr
    assert again.returncode == 1 and "409" in again.stderr
    assert updated.returncode == 0, updated.stderr
    assert json.loads(shown.stdout)["version_minor"] == 2
    assert synced.stdout.count("installed") == 4
    assert resynced.stdout.count("unchanged") == 4
    assert len(json.loads(listed.stdout)) == 5
    assert deleted.returncode == 0
    assert "org.acme.Cli" not in [item["interface_name"] for item in json.loads(after.stdout)]
