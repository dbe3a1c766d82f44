"""The embedded MQTT broker: amqtt, with Headwater owning authentication and PUBLISH handling.

Stock amqtt acknowledges a QoS 1 PUBLISH before anything has stored it and fans
messages out through per-message queues. Here a device's connection is read by
:class:`~broker.handler.DeviceHandler`: its PUBLISH goes straight to
:class:`~broker.ingest.Ingest`, and the PUBACK (or PUBREC) is sent only once
Kafka acknowledged the record that holds it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from amqtt.broker import Broker
from amqtt.errors import AMQTTError

from broker.handler import DeviceHandler
from broker.limits import ConnectionLimits
from broker.topics import DeviceIdentity, may_subscribe
from pipeline.pki import realm_ca_name
from schemas.interface import Ownership

if TYPE_CHECKING:
    from amqtt.session import Session

    from broker.ingest import Ingest
    from broker.interfaces import InterfaceCache

log = logging.getLogger(__name__)

Authenticator = Callable[[DeviceIdentity, str | None], Awaitable[bool]]
"""Whether a device may connect: with its credentials secret, or (None) already proven by certificate."""

_ISSUER = "_headwater_issuer"


class HeadwaterBroker(Broker):
    """amqtt's broker with device authentication, a per-device topic ACL and Headwater's PUBLISH flow."""

    def __init__(
        self,
        config: dict[str, Any],
        *,
        authenticate: Authenticator,
        ingest: Ingest,
        interfaces: InterfaceCache,
        realm_cas: list[str] | None = None,
        limits: ConnectionLimits | None = None,
    ) -> None:
        super().__init__(config)
        self.ingest = ingest
        self.limits = limits or ConnectionLimits()
        self.interfaces = interfaces
        self._authenticate_device = authenticate
        self._event_tasks: set[asyncio.Task[None]] = set()
        self._realm_cas: list[str] = list(realm_cas or ())
        self._tls_contexts: list[ssl.SSLContext] = []

    def _create_ssl_context(self, listener: Any) -> ssl.SSLContext:
        # Device certificates are checked against the realm CAs only, never the system store;
        # a client without a certificate may still log in with its credentials secret.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(listener["certfile"], listener["keyfile"])
        context.verify_mode = ssl.CERT_OPTIONAL
        for pem in self._realm_cas:
            context.load_verify_locations(cadata=pem)
        self._tls_contexts.append(context)
        return context

    def trust_realm_ca(self, pem: str) -> None:
        """Accept device certificates of a (new) realm CA on every TLS listener, from the next handshake."""
        if pem in self._realm_cas:
            return
        self._realm_cas.append(pem)
        for context in self._tls_contexts:
            context.load_verify_locations(cadata=pem)

    async def _handle_client_session(
        self, reader: Any, writer: Any, client_session: Session, *args: Any
    ) -> Any:
        # A verified client certificate names the device: its CN is "<realm>/<device_id>".
        certificate = writer._writer.get_extra_info("peercert") if hasattr(writer, "_writer") else None
        issuer = None
        if certificate:
            subject = _common_name(certificate.get("subject", ()))
            issuer = _common_name(certificate.get("issuer", ()))
            client_session.username = subject
            client_session.password = None
        setattr(client_session, _ISSUER, issuer)
        return await super()._handle_client_session(reader, writer, client_session, *args)

    @staticmethod
    def identity_of(session: Session | None) -> DeviceIdentity | None:
        """The device a session belongs to; only authenticated sessions get as far as publishing."""
        return DeviceIdentity.from_username(session.username) if session is not None else None

    async def _initialize_client_session(self, *args: Any, **kwargs: Any) -> Any:
        handler, session = await self._read_connect(*args, **kwargs)
        # amqtt builds the handler itself; DeviceHandler only overrides methods, so promoting the
        # instance is safe and avoids re-implementing CONNECT parsing.
        handler.__class__ = DeviceHandler
        handler.adopt(self)
        return handler, session

    async def _read_connect(self, reader: Any, writer: Any, *args: Any, **kwargs: Any) -> Any:
        """amqtt's reading of the CONNECT, bounded in time: a socket that sends none is closed."""
        timeout = self.limits.connect_timeout_s
        try:
            async with asyncio.timeout(timeout):
                return await super()._initialize_client_session(reader, writer, *args, **kwargs)
        except TimeoutError as exc:
            log.info("closing %s: no CONNECT within %.0f s", writer.get_peer_info(), timeout)
            await writer.close()
            raise AMQTTError(f"no CONNECT within {timeout} s") from exc

    async def _authenticate(self, session: Session, _listener: Any) -> bool:
        identity = DeviceIdentity.from_username(session.username)
        issuer = getattr(session, _ISSUER, None)
        if identity is not None and issuer is not None:
            proven = issuer == realm_ca_name(identity.realm)
            allowed = proven and await self._authenticate_device(identity, None)
        else:
            allowed = identity is not None and await self._authenticate_device(
                identity, session.password or ""
            )
        if identity is None or not allowed:
            log.info("refused CONNECT from %s as %r", session.remote_address, session.username)
            return False
        self._emit(identity, "device_connected", ip_address=session.remote_address)
        return True

    async def _topic_filtering(self, session: Session, topic: str, action: Any) -> bool:
        # Only subscriptions reach here: device publishes take Headwater's own path.
        identity = self.identity_of(session)
        if identity is None:
            return False
        allowed = may_subscribe(identity, topic, lambda name: self._server_owned(identity.realm, name))
        if not allowed:
            log.info("refused SUBSCRIBE %s from %s", topic, identity.base_topic)
        return allowed

    def _server_owned(self, realm: str, name: str) -> bool:
        compiled = self.interfaces.get(realm, name)
        return compiled is not None and compiled.interface.ownership is Ownership.SERVER

    async def _handle_disconnect(self, client_session: Session, *args: Any, **kwargs: Any) -> None:
        await super()._handle_disconnect(client_session, *args, **kwargs)
        identity = self.identity_of(client_session)
        if identity is not None:
            handler = args[0] if args else kwargs.get("handler")
            counts = getattr(handler, "_counts", None) or {}
            self._emit(identity, "device_disconnected", metadata={"exchanged": json.dumps(counts)})

    def is_connected(self, identity: DeviceIdentity) -> bool:
        """Whether this broker holds a live connection of the device."""
        return any(
            self.identity_of(session) == identity and session.transitions.is_connected()
            for session, _ in self._sessions.values()
        )

    async def disconnect_device(self, identity: DeviceIdentity) -> None:
        """Close every connection of a device (its credentials were inhibited)."""
        for session, handler in list(self._sessions.values()):
            if self.identity_of(session) == identity and handler.writer is not None:
                log.info("disconnecting %s: its credentials are inhibited", identity.base_topic)
                await handler.writer.close()

    def _emit(self, identity: DeviceIdentity, kind: str, **fields: Any) -> None:
        self.keep(asyncio.create_task(self._send_event(identity, kind, **fields)))

    def keep(self, task: asyncio.Task[None]) -> None:
        """Hold a background task until it ends (the loop keeps only weak references)."""
        self._event_tasks.add(task)
        task.add_done_callback(self._event_tasks.discard)

    async def _send_event(self, identity: DeviceIdentity, kind: str, **fields: Any) -> None:
        try:
            await self.ingest.event(identity, kind, **fields)
        except Exception:  # an event that cannot be sent must not break the connection
            log.exception("could not emit %s for %s", kind, identity.base_topic)


def _common_name(name: Any) -> str | None:
    """The commonName of a decoded certificate name (``ssl``'s tuple of RDN tuples)."""
    for rdn in name:
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
