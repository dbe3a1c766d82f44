"""``headwater trigger`` and ``headwater policy`` driven as a user would, against ``headwater up``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Running, provision
from tests.e2e.test_interface_cli import headwater
from tests.e2e.test_triggers_webhooks import IFACE, threshold

POLICY = {
    "name": "patient",
    "error_handlers": [{"on": "server_error", "strategy": "retry"}],
    "maximum_capacity": 100,
    "retry_times": 2,
}


def test_policy_and_trigger_commands(platform: Running, tmp_path: Path) -> None:
    realm = provision(platform, IFACE, settle=0).realm
    (tmp_path / "policy.json").write_text(json.dumps(POLICY))
    folder = tmp_path / "triggers"
    folder.mkdir()
    (folder / "hot.json").write_text(json.dumps(threshold("hot", "http://127.0.0.1:9/h", policy="patient")))
    (folder / "warm.json").write_text(json.dumps(threshold("warm", "http://127.0.0.1:9/w")))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "bad", "action": {"http_url": "ftp://x", "http_method": "post"}}))

    policy = headwater(platform, "policy", "install", str(tmp_path / "policy.json"), "-r", realm)
    installed = headwater(platform, "trigger", "install", str(folder / "hot.json"), "-r", realm)
    refused = headwater(platform, "trigger", "install", str(bad), "-r", realm)
    synced = headwater(platform, "trigger", "sync", str(folder), "-r", realm)
    listed = headwater(platform, "trigger", "list", "-r", realm, "-o", "json")
    shown = headwater(platform, "trigger", "show", "hot", "-r", realm)
    in_use = headwater(platform, "policy", "delete", "patient", "-r", realm)
    deleted = headwater(platform, "trigger", "delete", "hot", "-r", realm)
    policy_gone = headwater(platform, "policy", "delete", "patient", "-r", realm)
    policies = headwater(platform, "policy", "list", "-r", realm, "-o", "json")
    letters = headwater(platform, "trigger", "dead-letters", "-r", realm, "-o", "json")
    replay = headwater(platform, "trigger", "dead-letters", "--replay", "-r", realm)

    assert policy.returncode == 0 and "installed patient" in policy.stdout
    assert installed.returncode == 0, installed.stderr
    assert refused.returncode == 1 and "bad.json" in refused.stderr
    assert "unchanged hot" in synced.stdout and "installed warm" in synced.stdout
    assert json.loads(listed.stdout) == ["hot", "warm"]
    assert json.loads(shown.stdout)["policy"] == "patient"
    assert in_use.returncode == 1 and "hot" in in_use.stderr
    assert deleted.returncode == 0 and policy_gone.returncode == 0
    assert json.loads(policies.stdout) == []
    assert json.loads(letters.stdout) == []
    assert replay.returncode == 0 and "replayed 0" in replay.stdout
