"""Versioned ClickHouse migrations, applied in order at start; identical on chDB and a server."""

from __future__ import annotations

from typing import Final

# Each entry is (version, statements). Append new versions; never edit an applied one.
# ``{db}`` is replaced by the configured database name.
MIGRATIONS: Final[tuple[tuple[int, tuple[str, ...]], ...]] = (
    (
        1,
        (
            # Individual datastream values, one column per value family so each stays typed and
            # compresses well. ReplacingMergeTree on a key ending in the stable reading id makes a
            # replayed batch collapse into the rows it repeats; readers use FINAL.
            """
            CREATE TABLE IF NOT EXISTS {db}.individual_datastreams (
                realm LowCardinality(String),
                device_id String,
                interface LowCardinality(String),
                major UInt32,
                path String,
                value_type LowCardinality(String),
                timestamp DateTime64(6, 'UTC') CODEC(Delta, ZSTD),
                reception_timestamp DateTime64(6, 'UTC') CODEC(Delta, ZSTD),
                reading_id UInt64,
                double_value Float64 CODEC(Gorilla, ZSTD),
                long_value Int64 CODEC(T64, ZSTD),
                bool_value Bool,
                string_value String CODEC(ZSTD),
                double_array Array(Float64),
                long_array Array(Int64),
                bool_array Array(Bool),
                string_array Array(String)
            )
            ENGINE = ReplacingMergeTree
            PARTITION BY toYYYYMM(timestamp)
            ORDER BY (realm, device_id, interface, path, timestamp, reading_id)
            """,
        ),
    ),
    (
        2,
        (
            # Properties: one row per (realm, device, interface, major, path); the latest reception wins
            # (ReplacingMergeTree's version), so a replayed older value never overrides a newer one.
            # An unset is a row with ``unset`` true: readers drop it, so the path is absent.
            """
            CREATE TABLE IF NOT EXISTS {db}.properties (
                realm LowCardinality(String),
                device_id String,
                interface LowCardinality(String),
                major UInt32,
                path String,
                value_type LowCardinality(String),
                unset Bool,
                reception_timestamp DateTime64(6, 'UTC'),
                reading_id UInt64,
                double_value Float64,
                long_value Int64,
                bool_value Bool,
                string_value String,
                double_array Array(Float64),
                long_array Array(Int64),
                bool_array Array(Bool),
                string_array Array(String)
            )
            ENGINE = ReplacingMergeTree(reception_timestamp)
            ORDER BY (realm, device_id, interface, major, path)
            """,
        ),
    ),
    (
        3,
        (
            # Retention (a mapping's database_retention_ttl): each row carries its own lifetime, 0 for
            # "keep forever", so one table serves every mapping; merges drop expired rows. The persist
            # path fills it from ``pipeline.store.retention``; rows written without it keep forever.
            "ALTER TABLE {db}.individual_datastreams "
            "ADD COLUMN IF NOT EXISTS ttl_seconds UInt32 DEFAULT 0 CODEC(T64, ZSTD)",
            "ALTER TABLE {db}.individual_datastreams "
            "MODIFY TTL toDateTime(timestamp) + toIntervalSecond(ttl_seconds) WHERE ttl_seconds > 0",
        ),
    ),
    (
        4,
        (
            # Device events (connected, disconnected, introspection, device_error, ...) as the
            # hw.device-events topic carries them. ``event_id`` is a hash of the record, so a replayed
            # event collapses into the row it repeats; readers use FINAL. Each row keeps the lifetime
            # it was written with (``ttl_seconds``, 0 for ever), as datastream rows do.
            """
            CREATE TABLE IF NOT EXISTS {db}.device_events (
                realm LowCardinality(String),
                device_id String,
                timestamp DateTime64(6, 'UTC') CODEC(Delta, ZSTD(3)),
                event_id UInt64,
                type LowCardinality(String),
                ip_address Nullable(String) CODEC(ZSTD(3)),
                error_name LowCardinality(Nullable(String)),
                metadata Map(String, String) CODEC(ZSTD(3)),
                ttl_seconds UInt32 DEFAULT 0 CODEC(T64, ZSTD(3))
            )
            ENGINE = ReplacingMergeTree
            PARTITION BY toYYYYMM(timestamp)
            ORDER BY (realm, device_id, timestamp, event_id)
            TTL toDateTime(timestamp) + toIntervalSecond(ttl_seconds) WHERE ttl_seconds > 0
            """,
        ),
    ),
    (
        5,
        (
            # Codecs measured over 10M realistic rows (tests/bench/bench_schema.py, figures in
            # tests/bench/README.md): FPC packs these doubles 18 % smaller than Gorilla, and ZSTD(3)
            # beats ZSTD(1) after Delta on timestamps, T64 on longs and on strings (not on reception
            # times, which keep ZSTD(1)). Reads are unchanged. A codec change rewrites nothing: new
            # parts use it, older ones take it when they merge.
            "ALTER TABLE {db}.individual_datastreams "
            "MODIFY COLUMN timestamp DateTime64(6, 'UTC') CODEC(Delta, ZSTD(3))",
            "ALTER TABLE {db}.individual_datastreams MODIFY COLUMN double_value Float64 CODEC(FPC, ZSTD(3))",
            "ALTER TABLE {db}.individual_datastreams MODIFY COLUMN long_value Int64 CODEC(T64, ZSTD(3))",
            "ALTER TABLE {db}.individual_datastreams MODIFY COLUMN string_value String CODEC(ZSTD(3))",
        ),
    ),
    (
        6,
        (
            # Dead letters (hw.dlq): device messages refused by the broker and readings the worker
            # could not store, each with its reason, kept ``ttl_seconds`` (0 for ever). ``letter_id``
            # is a hash of the record, so one written twice collapses; a replay writes the row again
            # with ``replayed_at`` set, the larger version winning (readers use FINAL).
            """
            CREATE TABLE IF NOT EXISTS {db}.dead_letters (
                realm LowCardinality(String),
                device_id String,
                received_at DateTime64(6, 'UTC') CODEC(Delta, ZSTD(3)),
                letter_id UInt64,
                source LowCardinality(String),
                topic String CODEC(ZSTD(3)),
                interface LowCardinality(String),
                path String CODEC(ZSTD(3)),
                qos UInt8,
                reason LowCardinality(String),
                detail String CODEC(ZSTD(3)),
                payload String CODEC(ZSTD(3)),
                replayed_at DateTime64(6, 'UTC') DEFAULT 0,
                ttl_seconds UInt32 DEFAULT 0 CODEC(T64, ZSTD(3))
            )
            ENGINE = ReplacingMergeTree(replayed_at)
            PARTITION BY toYYYYMM(received_at)
            ORDER BY (realm, device_id, received_at, letter_id)
            TTL toDateTime(received_at) + toIntervalSecond(ttl_seconds) WHERE ttl_seconds > 0
            """,
        ),
    ),
)

# Columns of ``individual_datastreams`` an insert provides, in order.
INDIVIDUAL_COLUMNS: Final = (
    "realm",
    "device_id",
    "interface",
    "major",
    "path",
    "value_type",
    "timestamp",
    "reception_timestamp",
    "reading_id",
    "double_value",
    "long_value",
    "bool_value",
    "string_value",
    "double_array",
    "long_array",
    "bool_array",
    "string_array",
    "ttl_seconds",
)

# The value columns both tables share, in order.
VALUE_COLUMNS: Final = INDIVIDUAL_COLUMNS[9:17]

# Columns of ``properties`` an insert provides, in order.
PROPERTY_COLUMNS: Final = (
    "realm",
    "device_id",
    "interface",
    "major",
    "path",
    "value_type",
    "unset",
    "reception_timestamp",
    "reading_id",
    *VALUE_COLUMNS,
)

# Columns of ``device_events`` an insert provides, in order.
EVENT_COLUMNS: Final = (
    "realm",
    "device_id",
    "timestamp",
    "event_id",
    "type",
    "ip_address",
    "error_name",
    "metadata",
    "ttl_seconds",
)

# Columns of ``dead_letters`` an insert provides, in order.
DEAD_LETTER_COLUMNS: Final = (
    "realm",
    "device_id",
    "received_at",
    "letter_id",
    "source",
    "topic",
    "interface",
    "path",
    "qos",
    "reason",
    "detail",
    "payload",
    "replayed_at",
    "ttl_seconds",
)
