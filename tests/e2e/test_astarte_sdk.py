"""The official astarte-device-sdk (PyPI), unmodified, against ``headwater up``.

The SDK depends on PyPI's ``bson``, which clashes with pymongo's, so it runs in a
virtualenv of its own, created here, as a subprocess.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Provisioned, Running, provision

SDK = "astarte-device-sdk==0.14.*"
INTERFACES = Path(__file__).parents[1] / "data" / "sdk-interfaces" / "e2etest"
DRIVER = Path(__file__).with_name("sdk_device.py")
DATASTREAM = "org.astarte-platform.python.e2etest.DeviceDatastream"


@pytest.fixture(scope="session")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    venv = tmp_path_factory.mktemp("sdk-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", SDK], capture_output=True, text=True, check=False
    )
    if installed.returncode != 0:
        pytest.fail(f"could not install {SDK}: {installed.stderr[-2000:]}")
    yield python


def _sdk_device(
    platform: Running, tmp_path: Path, **extra: object
) -> tuple[Provisioned, dict[str, object], dict[str, str]]:
    """A device in a realm with the SDK's e2e interfaces, the driver's arguments and its environment."""
    device = provision(
        platform, *(json.loads(path.read_text()) for path in sorted(INTERFACES.glob("*.json")))
    )
    persistency = tmp_path / "sdk"
    persistency.mkdir()
    arguments = {
        "realm": device.realm,
        "device_id": device.device_id,
        "secret": device.secret,
        "pairing_url": f"{platform.api}/pairing",
        "persistency_dir": str(persistency),
        "interfaces_dir": str(INTERFACES),
        **extra,
    }
    return device, arguments, dict(os.environ) | {"SSL_CERT_FILE": str(platform.data_dir / "ca.pem")}


def test_the_sdk_pairs_connects_over_tls_and_sends_every_type(
    platform: Running, sdk_python: Path, tmp_path: Path
) -> None:
    device, arguments, env = _sdk_device(platform, tmp_path)
    realm, device_id = device.realm, device.device_id
    run = subprocess.run(
        [str(sdk_python), str(DRIVER), json.dumps(arguments)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"sent": 16}, run.stdout + run.stderr[-3000:]

    with platform.client() as api:

        def value(kind: str) -> object:
            path = f"/appengine/v1/{realm}/devices/{device_id}/interfaces/{DATASTREAM}/{kind}_endpoint"
            return api.get(path).json()["data"][-1]["value"]

        deadline = time.monotonic() + 5
        while not api.get(
            f"/appengine/v1/{realm}/devices/{device_id}/interfaces/{DATASTREAM}/double_endpoint"
        ).json()["data"]:
            assert time.monotonic() < deadline
        stored = {
            kind: value(kind)
            for kind in (
                "double",
                "integer",
                "boolean",
                "string",
                "binaryblob",
                "datetime",
                "doublearray",
                "integerarray",
                "booleanarray",
                "stringarray",
                "binaryblobarray",
            )
        }
        longs = value("longinteger"), value("longintegerarray")
        status = api.get(f"/appengine/v1/{realm}/devices/{device_id}").json()["data"]

    assert stored == {
        "double": 4.5,
        "integer": -42,
        "boolean": True,
        "string": "hello headwater",
        "binaryblob": base64.b64encode(b"\x00\x01blob").decode(),
        "datetime": "2026-01-02T03:04:05.678Z",
        "doublearray": [1.5, -2.25],
        "integerarray": [1, 2, 3],
        "booleanarray": [True, False],
        "stringarray": ["a", "b"],
        "binaryblobarray": [base64.b64encode(b).decode() for b in (b"\x01", b"\x02\x03")],
    }
    assert [int(v) for v in longs[1]] == [2**40, -(2**41)] and int(longs[0]) == 2**40 + 3  # type: ignore[union-attr,call-overload]
    assert status["first_credentials_request"] is not None
    assert DATASTREAM in status["introspection"]
    assert status["introspection"][DATASTREAM]["exchanged_msgs"] == 14
    assert status["total_received_msgs"] == 16  # every message the SDK sent was accepted


def test_the_sdk_receives_server_owned_data_within_a_second(
    platform: Running, sdk_python: Path, tmp_path: Path
) -> None:
    device, arguments, env = _sdk_device(platform, tmp_path, receive=4)
    realm, device_id = device.realm, device.device_id
    driver = subprocess.Popen(
        [str(sdk_python), str(DRIVER), json.dumps(arguments)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert driver.stdout is not None
    assert driver.stdout.readline().strip() == "ready", driver.stderr.read() if driver.stderr else ""
    time.sleep(0.5)  # the SDK subscribes right after connecting
    server = "org.astarte-platform.python.e2etest"
    sent_at: list[float] = []
    with platform.client() as api:
        base = f"/appengine/v1/{realm}/devices/{device_id}/interfaces"
        for method, path, value in [
            ("POST", f"{server}.ServerDatastream/double_endpoint", 12.5),
            ("POST", f"{server}.ServerDatastream/stringarray_endpoint", ["x", "y"]),
            (
                "POST",
                f"{server}.ServerAggregate/sensor7",
                {
                    "double_endpoint": 1.25,
                    "string_endpoint": "on",
                    "integer_endpoint": 3,
                    "boolean_endpoint": True,
                    "longinteger_endpoint": 2**40,
                    "binaryblob_endpoint": "AAE=",
                    "datetime_endpoint": "2026-01-02T03:04:05Z",
                    "doublearray_endpoint": [1.0],
                    "integerarray_endpoint": [1],
                    "booleanarray_endpoint": [False],
                    "longintegerarray_endpoint": [2],
                    "stringarray_endpoint": ["s"],
                    "binaryblobarray_endpoint": ["AAE="],
                    "datetimearray_endpoint": ["2026-01-02T03:04:05Z"],
                },
            ),
            ("PUT", f"{server}.ServerProperty/sensor7/integer_endpoint", 77),
        ]:
            sent_at.append(time.time())
            answer = api.request(method, f"{base}/{path}", json={"data": value})
            assert answer.status_code == 200, answer.text
    out, err = driver.communicate(timeout=60)
    received = json.loads(out.strip().splitlines()[-1])["received"]

    by_path = {(interface, path): payload for interface, path, payload, _ in received}
    assert by_path[(f"{server}.ServerDatastream", "/double_endpoint")] == 12.5, err[-2000:]
    assert by_path[(f"{server}.ServerDatastream", "/stringarray_endpoint")] == ["x", "y"]
    assert by_path[(f"{server}.ServerAggregate", "/sensor7")]["string_endpoint"] == "on"
    assert by_path[(f"{server}.ServerProperty", "/sensor7/integer_endpoint")] == 77
    assert max(at for *_, at in received) - sent_at[-1] < 1.0


def test_the_sdk_survives_a_reconnect_with_an_interface_removed_while_offline(
    platform: Running, sdk_python: Path, tmp_path: Path
) -> None:
    device, arguments, env = _sdk_device(platform, tmp_path, reconnect=True)
    run = subprocess.run(
        [str(sdk_python), str(DRIVER), json.dumps(arguments)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"sent": 2}, run.stdout + run.stderr[-3000:]
    aggregate = "org.astarte-platform.python.e2etest.DeviceAggregate"
    with platform.client() as api:
        path = (
            f"/appengine/v1/{device.realm}/devices/{device.device_id}/interfaces/{DATASTREAM}/double_endpoint"
        )
        deadline = time.monotonic() + 5
        while len(values := [s["value"] for s in api.get(path).json()["data"]]) < 2:
            assert time.monotonic() < deadline, values
        status = api.get(f"/appengine/v1/{device.realm}/devices/{device.device_id}").json()["data"]

    assert values == [1.0, 2.0]
    assert aggregate not in status["introspection"] and DATASTREAM in status["introspection"]
    assert aggregate in [previous["name"] for previous in status["previous_interfaces"]]
