"""Users, login, whoami and contexts as an operator uses them, against ``headwater up``."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import yaml

from tests.e2e.conftest import Running

PASSWORD = "long enough"


def headwater(
    config_home: Path, *args: str, key: str | None = None, answers: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HEADWATER_URL", "HEADWATER_API_KEY")}
    env["XDG_CONFIG_HOME"] = str(config_home)
    if key is not None:
        env["HEADWATER_API_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        input=answers,
        timeout=60,
        check=False,
    )


def _realm_with_member(platform: Running, role: str) -> tuple[str, str]:
    realm, user = f"auth{uuid.uuid4().hex[:8]}", f"u{uuid.uuid4().hex[:8]}"
    with platform.client() as admin:
        assert admin.post("/housekeeping/v1/realms", json={"data": {"realm_name": realm}}).status_code == 201
        created = admin.post("/auth/v1/users", json={"data": {"username": user, "password": PASSWORD}})
        assert created.status_code == 201
        member = admin.put(f"/auth/v1/realms/{realm}/members/{user}", json={"data": {"role": role}})
        assert member.status_code == 200
    return realm, user


def test_login_keeps_a_key_that_whoami_and_other_commands_use(platform: Running, tmp_path: Path) -> None:
    realm, user = _realm_with_member(platform, "editor")
    home = tmp_path / "xdg"

    login = headwater(
        home,
        "auth",
        "login",
        "--url",
        platform.api,
        "--realm",
        realm,
        "--username",
        user,
        "--password",
        PASSWORD,
    )
    whoami = headwater(home, "whoami")
    listed = headwater(home, "interface", "list", "--realm", realm, "-o", "json")
    overridden = headwater(home, "whoami", key="hwk_0_not-a-key")

    assert login.returncode == 0, login.stderr
    path = home / "headwater" / "config.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = yaml.safe_load(path.read_text())
    assert config["current-context"] == f"{realm}@127.0.0.1:{platform.api_port}"
    assert config["contexts"][config["current-context"]]["key"].startswith("hwk_")
    assert whoami.returncode == 0, whoami.stderr
    assert user in whoami.stdout and f"{realm}: editor" in whoami.stdout
    assert listed.returncode == 0, listed.stderr
    assert overridden.returncode == 1 and "401" in overridden.stderr


def test_contexts_switch_between_logins(platform: Running, tmp_path: Path) -> None:
    first, user_a = _realm_with_member(platform, "viewer")
    second, user_b = _realm_with_member(platform, "owner")
    home = tmp_path / "xdg"
    for realm, user, name in ((first, user_a, "one"), (second, user_b, "two")):
        login = headwater(
            home,
            "auth",
            "login",
            "--url",
            platform.api,
            "--realm",
            realm,
            "--context",
            name,
            "--username",
            user,
            "--password",
            PASSWORD,
        )
        assert login.returncode == 0, login.stderr

    switched = headwater(home, "config", "use-context", "one")
    whoami = headwater(home, "whoami", "-o", "json")
    unknown = headwater(home, "config", "use-context", "three")

    assert switched.returncode == 0
    assert f'"username": "{user_a}"' in whoami.stdout
    assert unknown.returncode == 1 and "one, two" in unknown.stderr


def test_a_viewer_reads_but_may_not_install(platform: Running) -> None:
    realm, user = _realm_with_member(platform, "viewer")
    login = httpx.post(
        f"{platform.api}/auth/v1/login",
        json={"data": {"username": user, "password": PASSWORD, "realm": realm}},
    )
    key = login.json()["data"]["key"]
    interface = {
        "interface_name": "org.acme.V",
        "version_major": 0,
        "version_minor": 1,
        "type": "datastream",
        "ownership": "device",
        "mappings": [{"endpoint": "/a", "type": "double"}],
    }

    with httpx.Client(base_url=platform.api, headers={"X-API-KEY": key}) as viewer:
        read = viewer.get(f"/realmmanagement/v1/{realm}/interfaces")
        write = viewer.post(f"/realmmanagement/v1/{realm}/interfaces", json={"data": interface})
        elsewhere = viewer.get("/realmmanagement/v1/nosuchrealm/interfaces")

    assert login.status_code == 201
    assert read.status_code == 200 and write.status_code == 403 and elsewhere.status_code == 403
    assert httpx.get(f"{platform.api}/realmmanagement/v1/{realm}/interfaces").status_code == 401


def test_login_prompts_for_what_is_not_given(platform: Running, tmp_path: Path) -> None:
    realm, user = _realm_with_member(platform, "admin")
    home = tmp_path / "xdg"

    login = headwater(
        home, "auth", "login", "--url", platform.api, "--realm", realm, answers=f"{user}\n{PASSWORD}\n"
    )
    keys = headwater(home, "auth", "keys", "-o", "json")

    assert login.returncode == 0, login.stderr
    assert PASSWORD not in login.stdout
    assert keys.returncode == 0 and '"status": "active"' in keys.stdout and "_****" in keys.stdout


def test_a_jwt_made_by_the_cli_opens_what_its_claims_name(platform: Running, tmp_path: Path) -> None:
    realm, _ = _realm_with_member(platform, "viewer")
    made = headwater(tmp_path, "utils", "gen-keypair", realm, "--out-dir", str(tmp_path))
    public = (tmp_path / f"{realm}_public.pem").read_text()
    with platform.client() as admin:
        put = admin.put(
            f"/realmmanagement/v1/{realm}/config/auth", json={"data": {"jwt_public_key_pem": public}}
        )
    token = headwater(
        tmp_path,
        "utils",
        "gen-jwt",
        "appengine",
        "-k",
        str(tmp_path / f"{realm}_private.pem"),
        "-c",
        "GET::.*",
    ).stdout.strip()

    with httpx.Client(base_url=platform.api, headers={"Authorization": f"Bearer {token}"}) as client:
        devices = client.get(f"/appengine/v1/{realm}/devices")
        interfaces = client.get(f"/realmmanagement/v1/{realm}/interfaces")

    assert made.returncode == 0 and put.status_code == 204
    assert stat.S_IMODE((tmp_path / f"{realm}_private.pem").stat().st_mode) == 0o600
    assert devices.status_code == 200, devices.text
    assert interfaces.status_code == 403
