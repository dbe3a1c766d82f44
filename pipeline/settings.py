"""The one settings tree: built once at the edge (CLI or app factory) and passed down.

Environment variables use the ``HEADWATER_`` prefix and ``__`` for nesting
(``HEADWATER_KAFKA__BOOTSTRAP_SERVERS``); a TOML file may provide the same keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class MqttSettings(BaseModel):
    """The device-facing broker."""

    host: str = "0.0.0.0"
    port: int = 1883
    # The MQTTS listener (0 or None: off). Its certificate, from the data dir's root CA, names these hosts.
    tls_port: int | None = 8883
    tls_hosts: list[str] = Field(default_factory=lambda: ["localhost", "127.0.0.1"])
    public_host: str = "localhost"
    flush_interval_ms: float = 5.0
    max_batch_readings: int = 2000
    max_pending_readings: int = 100_000
    # Limits of one device connection (see broker/limits.py). A socket that has not sent a whole
    # CONNECT within connect_timeout_s is closed; a packet declaring more than max_packet_bytes
    # (remaining length) is refused from its fixed header, before it is buffered.
    connect_timeout_s: float = Field(default=10.0, gt=0)
    max_packet_bytes: int = Field(default=1 << 20, ge=64, le=268_435_455)
    max_inflight_per_connection: int = Field(default=16, ge=1)
    max_pending_acks_per_connection: int = Field(default=10_000, ge=1)
    max_unread_bytes: int = Field(default=1 << 20, ge=1 << 16)


class KafkaSettings(BaseModel):
    """Kafka clients: the producer acknowledges with every replica, consumers commit by hand."""

    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = "hw"
    ingest_partitions: int = 8
    acks: str = "all"
    # Tansu, the embedded development broker, refuses InitProducerId: `headwater up` turns this off.
    idempotence: bool = True
    request_timeout_ms: int = 30_000
    max_request_size: int = 8 * 1024 * 1024

    def topic(self, name: str) -> str:
        """The full name of a topic: ``<prefix>.<name>``."""
        return f"{self.topic_prefix}.{name}"


class ClickHouseSettings(BaseModel):
    """Time-series storage: ``chdb:///<dir>`` embedded, ``http(s)://host:8123`` in production."""

    url: str | None = None
    database: str = "headwater"
    username: str = "default"
    password: SecretStr = SecretStr("")
    # How long device events (connections, errors, introspections) are kept; 0 keeps them for ever.
    device_events_ttl_days: int = Field(default=90, ge=0)
    # How long dead letters (refused messages, unstorable readings) are kept; 0 keeps them for ever.
    dead_letters_ttl_days: int = Field(default=30, ge=0)


class SqlSettings(BaseModel):
    """Bounds of the analysts' SQL route (``/appengine/v1/<realm>/sql``).

    Its queries run in lanes of their own (threads and ClickHouse clients apart from the ingest
    path's), at most ``lanes`` at once; ClickHouse stops a query past any limit with its reason.
    """

    lanes: int = Field(default=2, ge=1)
    # How long a query waits for a free lane before it is refused (429).
    lane_wait_s: float = Field(default=5.0, gt=0)
    max_execution_s: float = Field(default=10.0, gt=0)
    max_memory_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    max_rows_to_read: int = Field(default=100_000_000, ge=1)
    max_bytes_to_read: int = Field(default=4 * 1024 * 1024 * 1024, ge=1)
    # Threads one query may use: fewer than the cores leaves the ingest path a core of its own.
    max_threads: int = Field(default=1, ge=1)
    max_result_rows: int = Field(default=10_000, ge=1)


class RegistrySettings(BaseModel):
    """The relational registry: SQLite embedded, PostgreSQL in production (SQLAlchemy URLs)."""

    url: str | None = None


class ApiSettings(BaseModel):
    """The HTTP API."""

    host: str = "127.0.0.1"
    port: int = 4000


class AuthSettings(BaseModel):
    """Users and API keys."""

    # Lifetime of a new API key unless asked otherwise; only global admins may ask for a permanent one.
    api_key_days: float = 30.0
    # Astarte's housekeeping key: JWTs signed with its private half may use their ``a_ha`` claims.
    housekeeping_jwt_public_key_path: Path | None = None


class WorkerSettings(BaseModel):
    """Stream processing workers."""

    group_id: str = "headwater-persist"
    # A consumer joins its group only after about half the session timeout (measured on Tansu),
    # so keep it short; faust heartbeats from its own thread, so a busy event loop does not expire it.
    session_timeout_s: float = 4.0
    heartbeat_interval_s: float = 1.0
    flush_rows: int = 50_000
    flush_interval_ms: float = 100.0


class Settings(BaseSettings):
    """Everything Headwater can be told, in one tree."""

    model_config = SettingsConfigDict(env_prefix="HEADWATER_", env_nested_delimiter="__", extra="ignore")
    toml_file: ClassVar[Path | None] = None

    data_dir: Path = Path("./headwater-data")
    # Shared Prometheus multiprocess directory (set by `headwater up` for its processes).
    metrics_dir: Path | None = None
    instance_id: str = ""
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    clickhouse: ClickHouseSettings = Field(default_factory=ClickHouseSettings)
    sql: SqlSettings = Field(default_factory=SqlSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.toml_file))
        return tuple(sources)

    @property
    def clickhouse_url(self) -> str:
        """The ClickHouse URL, the embedded chDB path under the data dir by default."""
        return self.clickhouse.url or f"chdb://{self.data_dir.resolve()}/clickhouse"

    @property
    def registry_url(self) -> str:
        """The registry's SQLAlchemy URL, a SQLite file under the data dir by default."""
        return self.registry.url or f"sqlite+aiosqlite:///{self.data_dir.resolve()}/registry.db"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from overrides, then the environment, then an optional TOML file."""

    class _Loaded(Settings):
        toml_file: ClassVar[Path | None] = config_file

    loaded = _Loaded(**overrides)
    return Settings.model_validate(loaded.model_dump())
