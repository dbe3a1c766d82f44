"""The settings tree: overrides, then HEADWATER_ environment variables, then a TOML file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No HEADWATER_ variable of the calling shell leaks in; relative paths resolve in a temp dir."""
    for name in list(os.environ):
        if name.upper().startswith("HEADWATER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "headwater.toml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    settings = load_settings()

    assert type(settings) is Settings
    assert settings.api.port == 4000
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert settings.kafka.topic("ingest") == "hw.ingest"
    assert settings.data_dir == Path("./headwater-data")


def test_overrides_are_used() -> None:
    settings = load_settings(instance_id="i-1", api={"port": 4100}, data_dir=Path("/srv/hw"))

    assert settings.instance_id == "i-1"
    assert settings.api.port == 4100
    assert settings.api.host == "127.0.0.1"
    assert settings.data_dir == Path("/srv/hw")


@pytest.mark.parametrize(
    ("variable", "value", "read", "expected"),
    [
        ("HEADWATER_INSTANCE_ID", "from-env", lambda s: s.instance_id, "from-env"),
        ("HEADWATER_DATA_DIR", "/var/lib/hw", lambda s: s.data_dir, Path("/var/lib/hw")),
        (
            "HEADWATER_KAFKA__BOOTSTRAP_SERVERS",
            "kafka:9093",
            lambda s: s.kafka.bootstrap_servers,
            "kafka:9093",
        ),
        ("HEADWATER_KAFKA__TOPIC_PREFIX", "prod", lambda s: s.kafka.topic("dlq"), "prod.dlq"),
        ("HEADWATER_MQTT__PORT", "1999", lambda s: s.mqtt.port, 1999),
        ("HEADWATER_KAFKA__IDEMPOTENCE", "false", lambda s: s.kafka.idempotence, False),
        (
            "HEADWATER_CLICKHOUSE__PASSWORD",
            "s3cret",
            lambda s: s.clickhouse.password.get_secret_value(),
            "s3cret",
        ),
        (
            "HEADWATER_REGISTRY__URL",
            "postgresql+asyncpg://db/hw",
            lambda s: s.registry_url,
            "postgresql+asyncpg://db/hw",
        ),
        ("headwater_api__port", "4200", lambda s: s.api.port, 4200),
    ],
)
def test_environment_variables_with_nesting(
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    read: Callable[[Settings], object],
    expected: object,
) -> None:
    monkeypatch.setenv(variable, value)
    assert read(load_settings()) == expected


def test_secret_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_CLICKHOUSE__PASSWORD", "s3cret")
    assert "s3cret" not in repr(load_settings())


def test_overrides_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_INSTANCE_ID", "from-env")
    monkeypatch.setenv("HEADWATER_API__PORT", "5000")
    monkeypatch.setenv("HEADWATER_API__HOST", "0.0.0.0")

    settings = load_settings(instance_id="from-override", api={"port": 6000})

    assert settings.instance_id == "from-override"
    assert settings.api.port == 6000
    assert settings.api.host == "0.0.0.0"  # nested keys merge across sources


def test_toml_file_is_read(tmp_path: Path) -> None:
    config = write_toml(
        tmp_path,
        'instance_id = "from-toml"\n\n[mqtt]\nport = 1999\n\n[kafka]\nbootstrap_servers = "k:1"\n',
    )

    settings = load_settings(config)

    assert settings.instance_id == "from-toml"
    assert settings.mqtt.port == 1999
    assert settings.mqtt.tls_port == 8883
    assert settings.kafka.bootstrap_servers == "k:1"


def test_environment_and_overrides_win_over_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_toml(tmp_path, 'instance_id = "from-toml"\n\n[api]\nport = 4300\nhost = "toml-host"\n')
    monkeypatch.setenv("HEADWATER_API__PORT", "4400")

    settings = load_settings(config, instance_id="from-override")

    assert settings.instance_id == "from-override"
    assert settings.api.port == 4400
    assert settings.api.host == "toml-host"


def test_toml_file_is_not_remembered(tmp_path: Path) -> None:
    load_settings(write_toml(tmp_path, 'instance_id = "from-toml"\n'))

    assert load_settings().instance_id == ""
    assert Settings.toml_file is None


def test_urls_default_under_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    root = (tmp_path / "data").resolve()

    assert settings.clickhouse_url == f"chdb://{root}/clickhouse"
    assert settings.registry_url == f"sqlite+aiosqlite:///{root}/registry.db"


def test_relative_data_dir_resolves_against_working_directory(tmp_path: Path) -> None:
    settings = load_settings()
    root = (tmp_path / "headwater-data").resolve()

    assert settings.clickhouse_url == f"chdb://{root}/clickhouse"
    assert settings.registry_url == f"sqlite+aiosqlite:///{root}/registry.db"


def test_explicit_urls_win_over_data_dir(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        clickhouse={"url": "http://ch:8123"},
        registry={"url": "postgresql+asyncpg://db/hw"},
    )

    assert settings.clickhouse_url == "http://ch:8123"
    assert settings.registry_url == "postgresql+asyncpg://db/hw"
