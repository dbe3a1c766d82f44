"""Prometheus metrics shared by every process, defined once here and imported down.

Under ``headwater up`` the processes share a multiprocess directory, so the API's
``/metrics`` shows the broker's and the worker's counters too.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

# prometheus_client reads this variable at import; `headwater up` sets it for its children.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

messages_received = Counter(
    "headwater_messages_received", "MQTT PUBLISH packets received from devices", ["qos"]
)
messages_rejected = Counter(
    "headwater_messages_rejected", "Device messages refused and sent to the dead-letter topic", ["reason"]
)
readings_forwarded = Counter("headwater_readings_forwarded", "Valid readings acknowledged by Kafka")
ingest_batch_readings = Histogram(
    "headwater_ingest_batch_readings",
    "Readings per ingest record",
    buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000),
)
kafka_produce_seconds = Histogram("headwater_kafka_produce_seconds", "Time for Kafka to acknowledge a batch")
rows_persisted = Counter("headwater_rows_persisted", "Rows inserted into ClickHouse")
clickhouse_insert_seconds = Histogram("headwater_clickhouse_insert_seconds", "Time of one ClickHouse insert")
store_failures = Counter("headwater_store_failures", "ClickHouse inserts that failed and were retried")


def exposition(multiprocess_dir: Path | None = None) -> tuple[bytes, str]:
    """The text exposition of this process's metrics, or of every process sharing ``multiprocess_dir``."""
    if multiprocess_dir is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(multiprocess_dir))  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


triggers_fired = Counter("headwater_triggers_fired", "Trigger events queued for delivery", ["kind"])
trigger_deliveries = Counter(
    "headwater_trigger_deliveries",
    "Trigger event delivery outcomes (delivered, retried, discarded, dead_letter, ...)",
    ["outcome"],
)
trigger_delivery_seconds = Histogram("headwater_trigger_delivery_seconds", "Time of one webhook request")


consumer_lag = Gauge(
    "headwater_consumer_lag",
    "Ingest records a partition holds beyond what the persist worker has stored",
    ["partition"],
    multiprocess_mode="livemax",
)


child_restarts = Counter(
    "headwater_child_restarts",
    "Processes `headwater up` restarted after they stopped unexpectedly (tansu, broker, worker)",
    ["child"],
)


def share_directory(directory: Path) -> None:
    """Write this process's metrics from now on into the multiprocess ``directory``.

    prometheus_client chooses per-process files at import, from the environment. ``headwater up``
    creates the directory only after that, so it switches here: labelled values created after the
    call (``child_restarts.labels(...)``) land in the directory the API's ``/metrics`` reads.
    """
    os.environ[MULTIPROCESS_ENV] = str(directory)
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


def forget_process(pid: int, directory: Path) -> None:
    """Drop the live gauges of a process that stopped (its counters keep counting in the sums)."""
    multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
