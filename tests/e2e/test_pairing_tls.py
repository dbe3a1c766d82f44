"""Pairing with certificates and MQTTS on ``headwater up``, the way the Astarte SDKs do it."""

from __future__ import annotations

import ssl
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import bson
import httpx
import paho.mqtt.client as mqtt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.conftest import Running
from tests.helpers import random_device_id

IFACE = {
    "interface_name": "org.acme.Tls",
    "version_major": 0,
    "version_minor": 1,
    "type": "datastream",
    "ownership": "device",
    "mappings": [{"endpoint": "/value", "type": "double"}],
}


def _csr(common_name: str) -> tuple[str, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Devices"),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                ]
            )
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return request.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def _setup(platform: Running) -> tuple[str, str, str]:
    realm = f"r{uuid.uuid4().hex[:8]}"
    device_id = random_device_id()
    with platform.client() as client:
        client.post("/housekeeping/v1/realms", json={"data": {"realm_name": realm}})
        client.post(f"/realmmanagement/v1/{realm}/interfaces", json={"data": IFACE})
        secret = client.post(
            f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": device_id}}
        ).json()["data"]["credentials_secret"]
    return realm, device_id, secret


def _connect_tls(
    port: int,
    ca: Path,
    client_id: str,
    *,
    cert: Path | None = None,
    key: Path | None = None,
    username: str | None = None,
    password: str | None = None,
) -> tuple[mqtt.Client, Any]:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.tls_set(
        ca_certs=str(ca),
        certfile=str(cert) if cert else None,
        keyfile=str(key) if key else None,
        cert_reqs=ssl.CERT_REQUIRED,
    )
    if username:
        client.username_pw_set(username, password)
    done = threading.Event()
    result: dict[str, Any] = {}

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        result["reason"] = reason
        done.set()

    client.on_connect = on_connect
    client.connect("localhost", port)
    client.loop_start()
    assert done.wait(10), "no CONNACK"
    return client, result["reason"]


def test_a_device_pairs_gets_a_certificate_and_publishes_over_tls(platform: Running, tmp_path: Path) -> None:
    realm, device_id, secret = _setup(platform)
    pairing = httpx.Client(
        base_url=f"{platform.api}/pairing/v1/{realm}",
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    csr, key_pem = _csr(f"{realm}/{device_id}")

    info = pairing.get(f"/devices/{device_id}")
    issued = pairing.post(
        f"/devices/{device_id}/protocols/astarte_mqtt_v1/credentials", json={"data": {"csr": csr}}
    )
    certificate = issued.json()["data"]["client_crt"]
    verified = pairing.post(
        f"/devices/{device_id}/protocols/astarte_mqtt_v1/credentials/verify",
        json={"data": {"client_crt": certificate}},
    )
    (tmp_path / "device.crt").write_text(certificate)
    (tmp_path / "device.key").write_bytes(key_pem)
    broker_url = info.json()["data"]["protocols"]["astarte_mqtt_v1"]["broker_url"]
    port = int(broker_url.rsplit(":", 1)[1].strip("/"))
    time.sleep(1.0)  # brokers trust a realm's new CA once its notice arrives
    client, reason = _connect_tls(
        port,
        platform.data_dir / "ca.pem",
        f"{realm}/{device_id}",
        cert=tmp_path / "device.crt",
        key=tmp_path / "device.key",
    )
    client.publish(f"{realm}/{device_id}", b"org.acme.Tls:0:1", qos=2)
    client.publish(
        f"{realm}/{device_id}/org.acme.Tls/value", bson.encode({"v": 3.5}), qos=1
    ).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()
    with platform.client() as api:
        deadline = time.monotonic() + 5
        path = f"/appengine/v1/{realm}/devices/{device_id}/interfaces/org.acme.Tls/value"
        while not (data := api.get(path).json()["data"]):
            assert time.monotonic() < deadline

    assert info.status_code == 200 and broker_url.startswith("mqtts://localhost:")
    assert issued.status_code == 201
    assert verified.json()["data"]["valid"] is True and verified.json()["data"]["until"].endswith("Z")
    assert not reason.is_failure
    assert [sample["value"] for sample in data] == [3.5]


def test_pairing_refuses_wrong_secrets_and_foreign_common_names(platform: Running) -> None:
    realm, device_id, secret = _setup(platform)
    pairing = httpx.Client(base_url=f"{platform.api}/pairing/v1/{realm}", timeout=10)
    csr, _ = _csr(f"{realm}/{random_device_id()}")

    no_secret = pairing.get(f"/devices/{device_id}")
    wrong_secret = pairing.get(f"/devices/{device_id}", headers={"Authorization": "Bearer nope"})
    foreign = pairing.post(
        f"/devices/{device_id}/protocols/astarte_mqtt_v1/credentials",
        json={"data": {"csr": csr}},
        headers={"Authorization": f"Bearer {secret}"},
    )
    garbage = pairing.post(
        f"/devices/{device_id}/protocols/astarte_mqtt_v1/credentials",
        json={"data": {"csr": "not a csr"}},
        headers={"Authorization": f"Bearer {secret}"},
    )
    bogus = pairing.post(
        f"/devices/{device_id}/protocols/astarte_mqtt_v1/credentials/verify",
        json={"data": {"client_crt": "nope"}},
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert no_secret.status_code == 401 and wrong_secret.status_code == 401
    assert foreign.status_code == 422 and "common name" in foreign.json()["errors"]["detail"]
    assert garbage.status_code == 422
    assert bogus.status_code == 200 and bogus.json()["data"]["valid"] is False


def test_mqtts_also_takes_the_credentials_secret(platform: Running) -> None:
    realm, device_id, secret = _setup(platform)
    port = int(platform.output.read_text().split("mqtts://localhost:")[1].split()[0])

    client, reason = _connect_tls(
        port,
        platform.data_dir / "ca.pem",
        f"{realm}/{device_id}",
        username=f"{realm}/{device_id}",
        password=secret,
    )
    client.disconnect()
    client.loop_stop()
    refused_client, refused = _connect_tls(
        port,
        platform.data_dir / "ca.pem",
        f"{realm}/{device_id}",
        username=f"{realm}/{device_id}",
        password="wrong",
    )
    refused_client.loop_stop()

    assert not reason.is_failure
    assert refused.is_failure
