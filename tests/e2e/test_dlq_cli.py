"""``headwater dlq`` against ``headwater up``: a refused reading is listed, then replayed once fixable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import bson

from tests.e2e.conftest import Running, provision
from tests.e2e.test_appengine_data import Device, until
from tests.e2e.test_interface_cli import headwater

IFACE = "org.acme.e2e.Late"
LATE = {
    "interface_name": IFACE,
    "version_major": 0,
    "version_minor": 1,
    "type": "datastream",
    "ownership": "device",
    "mappings": [{"endpoint": "/%{meter}/power", "type": "double", "explicit_timestamp": True}],
}
AT = datetime(2024, 3, 1, tzinfo=UTC)


def _letters(platform: Running, realm: str, device_id: str) -> list[dict[str, Any]]:
    listed = headwater(platform, "dlq", "list", "--realm", realm, "--device", device_id, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    letters: list[dict[str, Any]] = json.loads(listed.stdout)
    return letters


def test_dlq_list_and_replay(platform: Running) -> None:
    given = provision(platform)  # the interface is not installed yet: the reading is refused
    device = Device(platform, given.realm, given.device_id, given.secret)
    try:
        device.send("", f"{IFACE}:0:1".encode())
        device.send(f"{IFACE}/m1/power", bson.encode({"v": 1.5, "t": AT}))
    finally:
        device.close()

    letters = until(lambda: _letters(platform, given.realm, given.device_id), within=30)
    assert letters, "the refused reading was not listed"
    [letter] = [x for x in letters if x["interface"] == IFACE]
    assert (letter["reason"], letter["path"], letter["device_id"]) == (
        "interface_loading_failed",
        "/m1/power",
        given.device_id,
    )
    env = dict(os.environ) | {
        "HEADWATER_URL": platform.api,
        "HEADWATER_API_KEY": platform.key,
        "COLUMNS": "300",
    }
    table = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "dlq", "list", "--realm", given.realm],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert table.returncode == 0, table.stderr
    assert letter["id"] in table.stdout and "interface_loading_failed" in table.stdout, table.stdout

    with platform.client() as api:
        installed = api.post(f"/realmmanagement/v1/{given.realm}/interfaces", json={"data": LATE})
        assert installed.status_code == 201, installed.text
    replayed = headwater(platform, "dlq", "replay", letter["id"], "--realm", given.realm, "-o", "json")
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout) == {"replayed": 1, "refused": []}

    path = f"/appengine/v1/{given.realm}/devices/{given.device_id}/interfaces/{IFACE}/m1/power"
    with platform.client() as api:
        stored = until(lambda: api.get(path).json().get("data"), within=30)
    assert [(s["value"], s["timestamp"]) for s in stored] == [(1.5, "2024-03-01T00:00:00.000Z")]
    again = _letters(platform, given.realm, given.device_id)
    assert [x["replayed_at"] is not None for x in again if x["interface"] == IFACE] == [True]
