"""The faust application every topology registers on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

if TYPE_CHECKING:
    from pipeline.settings import KafkaSettings, WorkerSettings

# faust fixes its consumer's fetch wait at 1.5 s, and Tansu holds a fetch that long even when
# records are waiting: that wait was most of the publish-to-queryable time.
FETCH_MAX_WAIT_MS = 50


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts its fetcher
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class HeadwaterApp(faust.App):
    """faust's App on a transport whose consumer waits at most ``FETCH_MAX_WAIT_MS`` for records."""

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


def create_app(kafka: KafkaSettings, worker: WorkerSettings, *, data_dir: Path | None = None) -> faust.App:
    """A faust app on Headwater's Kafka, with explicit acks and no web server of its own."""
    options: dict[str, Any] = {}
    if data_dir is not None:
        options["datadir"] = str(data_dir / "faust")
    return HeadwaterApp(
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
        **options,
    )
