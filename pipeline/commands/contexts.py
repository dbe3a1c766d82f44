"""The CLI's config file: contexts (an API address, a realm and a key each) and the current one.

It lives in ``$XDG_CONFIG_HOME/headwater/config.yaml`` (``~/.config`` by default)
with mode 0600, since it holds API keys. ``HEADWATER_URL`` and
``HEADWATER_API_KEY`` (or ``--url`` and ``--key``) override it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

FALLBACK_URL = "http://127.0.0.1:4000"


@dataclass
class Context:
    """One installation as the CLI reaches it."""

    url: str
    key: str
    realm: str | None = None
    username: str | None = None
    key_id: str | None = None
    expires_at: str | None = None


@dataclass
class CliConfig:
    current_context: str | None = None
    contexts: dict[str, Context] = field(default_factory=dict)

    @property
    def current(self) -> Context | None:
        return self.contexts.get(self.current_context or "")


def config_path() -> Path:
    """Where the config file is: ``$XDG_CONFIG_HOME/headwater/config.yaml``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "headwater" / "config.yaml"


def load(path: Path | None = None) -> CliConfig:
    """The config file's contents; empty when there is none (or it is unreadable)."""
    path = path or config_path()
    try:
        raw: Any = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return CliConfig()
    if not isinstance(raw, dict):
        return CliConfig()
    contexts = {
        str(name): Context(**{k: v for k, v in entry.items() if k in Context.__dataclass_fields__})
        for name, entry in (raw.get("contexts") or {}).items()
        if isinstance(entry, dict) and "url" in entry and "key" in entry
    }
    return CliConfig(raw.get("current-context"), contexts)


def save(config: CliConfig, path: Path | None = None) -> Path:
    """Write the config file atomically, readable by its owner only."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = {
        "current-context": config.current_context,
        "contexts": {name: asdict(context) for name, context in config.contexts.items()},
    }
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".yaml")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(body, out, sort_keys=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def context_name(url: str, realm: str | None) -> str:
    """A default context name: ``realm@host:port``."""
    host = url.split("://", 1)[-1].rstrip("/")
    return f"{realm}@{host}" if realm else host


def default_url() -> str:
    """The API address when neither ``--url`` nor ``HEADWATER_URL`` gives one."""
    current = load().current
    return current.url if current else FALLBACK_URL


def key_for(url: str) -> str | None:
    """The current context's key, if it is for ``url`` (a key is never sent to another server)."""
    current = load().current
    if current is None or current.url.rstrip("/") != url.rstrip("/"):
        return None
    return current.key
