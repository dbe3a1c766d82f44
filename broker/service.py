"""The broker process: the facade that wires registry, interface cache, Kafka and amqtt together."""

from __future__ import annotations

import asyncio
import logging
import uuid
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from broker.downlink import DownlinkDelivery
from broker.forwarder import Forwarder
from broker.ingest import Ingest
from broker.interfaces import InterfaceCache
from broker.limits import ConnectionLimits
from broker.properties import PropertyResender
from broker.server import HeadwaterBroker
from broker.topics import DeviceIdentity
from pipeline import kafka
from pipeline.changes import ChangeFollower
from pipeline.pki import Pki
from pipeline.registry import Registry

if TYPE_CHECKING:
    from pipeline.settings import Settings

log = logging.getLogger(__name__)


class BrokerService:
    """Runs one broker instance; ``async with BrokerService(settings)`` serves until the block ends."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.broker_id = settings.instance_id or uuid.uuid4().hex[:12]
        self.registry = Registry(settings.registry_url)
        self.interfaces = InterfaceCache(self.registry)
        self.producer = kafka.producer(settings.kafka)
        self.pki = Pki(settings.data_dir)
        self._stack: list[Any] = []
        self._ingest: Ingest

    async def start(self) -> None:
        settings = self.settings
        topics = await kafka.ensure_topics(settings.kafka)
        await self._push(self.registry)
        await self._push(self.producer)
        follower = ChangeFollower(settings.kafka, topics.registry, self._on_registry_change)
        await self._push(follower)
        await self.interfaces.load_all()
        forwarder = Forwarder(
            self.producer,
            topics.ingest,
            broker_id=self.broker_id,
            flush_interval=settings.mqtt.flush_interval_ms / 1000,
            max_batch=settings.mqtt.max_batch_readings,
            max_pending=settings.mqtt.max_pending_readings,
        )
        await self._push(forwarder)
        ingest = self._ingest = Ingest(
            self.interfaces, forwarder, self.producer, topics, broker_id=self.broker_id
        )
        listeners: dict[str, Any] = {
            "default": {"type": "tcp", "bind": f"{settings.mqtt.host}:{settings.mqtt.port}"}
        }
        if settings.mqtt.tls_port:
            certfile, keyfile = self.pki.server_files([settings.mqtt.public_host, *settings.mqtt.tls_hosts])
            listeners["tls"] = {
                "type": "tcp",
                "bind": f"{settings.mqtt.host}:{settings.mqtt.tls_port}",
                "ssl": True,
                "certfile": str(certfile),
                "keyfile": str(keyfile),
            }
        self.broker = HeadwaterBroker(
            {"listeners": listeners, "plugins": {}},
            authenticate=self._authenticate,
            ingest=ingest,
            interfaces=self.interfaces,
            realm_cas=list(self.pki.realm_certificates().values()),
            limits=ConnectionLimits.from_settings(settings.mqtt),
        )
        ingest.on_empty_cache = PropertyResender(self.registry, self.broker).resend
        await self.broker.start()
        self._stack.append(_Shutdown(self.broker))
        await self._push(DownlinkDelivery(settings.kafka, topics.downlink, self.interfaces, self.broker))
        log.info("MQTT broker %s listening on %s:%d", self.broker_id, settings.mqtt.host, settings.mqtt.port)

    async def stop(self) -> None:
        while self._stack:
            await self._stack.pop().stop()

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _push(self, part: Any) -> None:
        await part.start()
        self._stack.append(part)

    async def _authenticate(self, identity: DeviceIdentity, secret: str | None) -> bool:
        if secret is None:  # proven by a certificate of the realm's CA
            allowed = await self.registry.device_may_connect(identity.realm, identity.device_id)
        else:
            allowed = await self.registry.authenticate_device(identity.realm, identity.device_id, secret)
        if allowed:
            # Before CONNACK, so the device's first reading is judged by its last known introspection.
            known = await self.registry.device_introspection(identity.realm, identity.device_id)
            self._ingest.introspections.recall(identity, known)
        return allowed

    async def _on_registry_change(self, kind: str, realm: str, name: str) -> None:
        if kind in ("interface", "realm"):
            await self.interfaces.reload_realm(realm)
        if kind == "device" and not await self.registry.device_may_connect(realm, name):
            await self.broker.disconnect_device(DeviceIdentity(realm, name))
        if kind == "realm-ca":
            certificate = self.pki.realm_certificates().get(realm)
            if certificate:
                self.broker.trust_realm_ca(certificate)


class _Shutdown:
    """Gives amqtt's broker the stop() the service's stack expects."""

    def __init__(self, broker: HeadwaterBroker) -> None:
        self._broker = broker

    async def stop(self) -> None:
        await self._broker.shutdown()


async def serve(settings: Settings) -> None:
    """Run a broker until cancelled."""
    async with BrokerService(settings):
        await asyncio.Event().wait()
