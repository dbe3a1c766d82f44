"""The faust application every topology registers on."""

from __future__ import annotations

from typing import TYPE_CHECKING

import faust

if TYPE_CHECKING:
    from pipeline.settings import KafkaSettings, WorkerSettings


def create_app(kafka: KafkaSettings, worker: WorkerSettings) -> faust.App:
    """A faust app on Headwater's Kafka, with explicit acks and no web server of its own."""
    return faust.App(
        worker.group_id,
        broker=f"kafka://{kafka.bootstrap_servers}",
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=0.2,
        producer_acks=-1,
        stream_wait_empty=False,
        broker_session_timeout=worker.session_timeout_s,
        broker_rebalance_timeout=worker.session_timeout_s,
        broker_heartbeat_interval=worker.heartbeat_interval_s,
    )
