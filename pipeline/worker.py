"""The worker process: persistence topology, and in embedded mode the API beside it.

chDB allows one process per data path, so the process that writes ClickHouse
also serves the API that reads it.
"""

from __future__ import annotations

import functools
import logging
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import uvicorn

from pipeline import kafka
from pipeline.api import Platform, create_app
from pipeline.changes import ChangeFollower
from pipeline.pki import Pki
from pipeline.registry import Registry
from pipeline.registry.status import DeviceStatusBook
from pipeline.registry.triggers import TriggerBook
from pipeline.store.clickhouse import ClickHouseStore
from pipeline.store.dead_letters import letter_columns
from pipeline.store.properties import purge_properties
from pipeline.store.shapes import InterfaceShapes
from schemas.interface import Ownership
from topologies.app import create_app as create_faust_app
from topologies.catalog import TriggerCatalog
from topologies.dead_letters import DeadLetterLog
from topologies.device_state import DeviceStateTopology
from topologies.event_log import DeviceEventLog
from topologies.last_values import LastValues
from topologies.persist import PersistTopology
from topologies.triggers import TriggerTopology
from topologies.webhooks import WebhookTopology

if TYPE_CHECKING:
    from pipeline.settings import Settings

log = logging.getLogger(__name__)


async def serve(settings: Settings, *, worker: bool = True, api: bool = True) -> None:
    """Run the persistence worker and/or the API until interrupted (SIGINT/SIGTERM).

    Health and metrics are always served on the API port; the data routes only with ``api``.
    """
    async with AsyncExitStack() as stack:
        topics = await kafka.ensure_topics(settings.kafka)
        registry = await stack.enter_async_context(Registry(settings.registry_url))
        store = await stack.enter_async_context(
            ClickHouseStore(
                settings.clickhouse_url,
                database=settings.clickhouse.database,
                username=settings.clickhouse.username,
                password=settings.clickhouse.password.get_secret_value(),
                sql_lanes=settings.sql.lanes,
            )
        )
        producer = kafka.producer(settings.kafka)
        await producer.start()
        stack.push_async_callback(producer.stop)
        caught_up = None
        if worker:
            shapes = InterfaceShapes(registry)
            follower = ChangeFollower(settings.kafka, topics.registry, shapes.on_change)
            await follower.start()
            stack.push_async_callback(follower.stop)
            app = create_faust_app(settings.kafka, settings.worker, data_dir=settings.data_dir)
            persist = PersistTopology(
                app,
                store,
                topics.ingest,
                flush_rows=settings.worker.flush_rows,
                flush_interval=settings.worker.flush_interval_ms / 1000,
                shapes=shapes,
                producer=producer,
                dead_letter_topic=topics.dlq,
            )
            letters_ttl = settings.clickhouse.dead_letters_ttl_days * 86_400
            DeadLetterLog(
                app,
                lambda records: store.insert_dead_letters(letter_columns(records, letters_ttl)),
                topics.dlq,
                flush_interval=settings.worker.flush_interval_ms / 1000,
            )
            caught_up = persist.caught_up
            DeviceEventLog(
                app,
                store,
                topics.device_events,
                ttl_seconds=settings.clickhouse.device_events_ttl_days * 86_400,
                flush_interval=settings.worker.flush_interval_ms / 1000,
            )
            DeviceStateTopology(
                app,
                DeviceStatusBook(registry),
                topics.device_events,
                producer,
                purge=functools.partial(_purge_properties, registry, store, shapes),
            )
            book = TriggerBook(registry)
            catalog = TriggerCatalog(registry, book)
            trigger_follower = ChangeFollower(settings.kafka, topics.registry, catalog.on_change)
            await trigger_follower.start()
            stack.push_async_callback(trigger_follower.stop)
            await catalog.load()
            last_values = LastValues(producer, settings.kafka, topics.trigger_state)
            stack.push_async_callback(last_values.stop)
            TriggerTopology(
                app,
                catalog,
                producer,
                ingest_topic=topics.ingest,
                device_events_topic=topics.device_events,
                trigger_events_topic=topics.trigger_events,
                last_values=last_values,
                stored=persist.stored,
            )
            webhooks = WebhookTopology(
                app,
                catalog,
                book,
                producer,
                trigger_events_topic=topics.trigger_events,
                dead_letter_topic=topics.trigger_dlq,
            )
            stack.push_async_callback(webhooks.stop)
            await app.start()
            stack.push_async_callback(app.stop)
            log.info("persistence worker consuming %s", topics.ingest)
        platform = Platform(
            registry=registry,
            store=store,
            producer=producer,
            topics=topics,
            instance_id=settings.instance_id,
            mqtt_url=f"mqtt://{settings.mqtt.public_host}:{settings.mqtt.port}",
            metrics_dir=settings.metrics_dir,
            mqtts_url=(
                f"mqtts://{settings.mqtt.public_host}:{settings.mqtt.tls_port}/"
                if settings.mqtt.tls_port
                else None
            ),
            pki=Pki(settings.data_dir),
            auth=settings.auth,
            sql=settings.sql,
            caught_up=caught_up,
        )
        config = uvicorn.Config(
            create_app(platform, full=api),
            host=settings.api.host,
            port=settings.api.port,
            log_level="warning",
            lifespan="off",
        )
        server = uvicorn.Server(config)
        platform.ready = True
        await server.serve()


async def _purge_properties(
    registry: Registry, store: ClickHouseStore, shapes: InterfaceShapes, event: dict[str, Any]
) -> None:
    """Apply a device's producer purge list: unset its device-owned properties it did not list."""
    realm, device_id = event["realm"], event["device_id"]
    kept = {entry for entry in (event.get("metadata") or {}).get("kept", "").split(";") if entry}
    interfaces = [interface for _, interface in await registry.interfaces(realm)]
    for interface in interfaces:
        shapes.put(realm, interface)  # the unsets are typed like the properties they replace
    owned = {interface.name for interface in interfaces if interface.ownership is Ownership.DEVICE}
    dropped = await purge_properties(
        store,
        shapes.get,
        realm=realm,
        device_id=device_id,
        kept=kept,
        device_owned=owned.__contains__,
        at_us=event["timestamp"],
    )
    if dropped:
        log.info("producer purge of %s/%s unset %d properties", realm, device_id, dropped)
