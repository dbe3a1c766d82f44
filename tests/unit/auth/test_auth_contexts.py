"""The CLI's config file: where it is, who may read it, and which key goes where."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pipeline.commands import contexts
from pipeline.commands.contexts import CliConfig, Context


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


def test_the_file_is_under_xdg_config_home_and_private(config_home: Path) -> None:
    config = CliConfig("a", {"a": Context("http://h:4000", "hwk_1_secret", "acme", "ada", "1", None)})

    path = contexts.save(config)

    assert path == config_home / "headwater" / "config.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert contexts.load() == config


def test_without_a_file_the_defaults_apply() -> None:
    assert contexts.load() == CliConfig()
    assert contexts.default_url() == contexts.FALLBACK_URL
    assert contexts.key_for(contexts.FALLBACK_URL) is None


def test_the_current_context_gives_the_url_and_its_key_only_to_that_url() -> None:
    contexts.save(
        CliConfig(
            "b",
            {
                "a": Context("http://a:4000", "key-a"),
                "b": Context("http://b:4000/", "key-b"),
            },
        )
    )

    assert contexts.default_url() == "http://b:4000/"
    assert contexts.key_for("http://b:4000") == "key-b"
    assert contexts.key_for("http://a:4000") is None


def test_a_broken_file_reads_as_empty(config_home: Path) -> None:
    path = config_home / "headwater" / "config.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("contexts: [unclosed")

    assert contexts.load() == CliConfig()


def test_context_names_default_to_realm_at_host() -> None:
    assert contexts.context_name("https://hw.example.com:4000/", "acme") == "acme@hw.example.com:4000"
    assert contexts.context_name("http://h:1", None) == "h:1"
