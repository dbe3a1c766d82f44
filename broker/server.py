"""The embedded MQTT broker: amqtt, with Headwater owning authentication, sessions and PUBLISH handling.

Stock amqtt acknowledges a QoS 1 PUBLISH before anything has stored it and fans
messages out through per-message queues. Here a device's connection is read by
:class:`~broker.handler.DeviceHandler`: its PUBLISH goes straight to
:class:`~broker.ingest.Ingest`, and the PUBACK (or PUBREC) is sent only once
Kafka acknowledged the record that holds it.

Stock amqtt also drops or adopts a client id's session before it authenticated
the CONNECT, lets any client id be used, and hands wills to subscribers
directly. Here a CONNECT touches no session until it passed
:func:`broker.sessions.refusal`, and a will is a reading that goes through
ingest when its device drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from amqtt.broker import Broker
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.disconnect import DisconnectPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler

from broker.handler import DeviceHandler
from broker.limits import ConnectionLimits
from broker.sessions import Connections, Will, refusal
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

_ISSUER = "headwater.issuer"
_ADMITTED = "headwater.admitted"
# What a device's new CONNECT brings to the persistent session it resumes.
_RENEWED = (
    "will_flag",
    "will_message",
    "will_topic",
    "will_qos",
    "will_retain",
    "keep_alive",
    "username",
    "password",
    "remote_address",
    "remote_port",
    "ssl_object",
)


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
        self._connections = Connections()

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

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        # Only read the CONNECT: amqtt would also drop or adopt the client id's session here, before
        # anything is authenticated. That waits for _handle_client_session.
        timeout = self.limits.connect_timeout_s
        try:
            async with asyncio.timeout(timeout):  # a socket that sends no whole CONNECT is closed
                handler, session = await BrokerProtocolHandler.init_from_connect(
                    reader, writer, self.plugins_manager
                )
        except TimeoutError as exc:
            log.info("closing %s: no CONNECT within %.0f s", writer.get_peer_info(), timeout)
            await writer.close()
            raise AMQTTError(f"no CONNECT within {timeout} s") from exc
        except MQTTError:
            await writer.close()
            raise
        except NoDataError as exc:
            raise AMQTTError(exc) from exc
        # amqtt builds the handler itself; DeviceHandler only overrides methods, so promoting the
        # instance is safe and avoids re-implementing CONNECT parsing.
        handler.__class__ = DeviceHandler
        handler.adopt(self)
        return handler, session

    async def _handle_client_session(
        self, reader: Any, writer: Any, client_session: Session, handler: Any, *args: Any
    ) -> Any:
        # A verified client certificate names the device: its CN is "<realm>/<device_id>".
        certificate = writer._writer.get_extra_info("peercert") if hasattr(writer, "_writer") else None
        if certificate:
            client_session.username = _common_name(certificate.get("subject", ()))
            client_session.password = None
            client_session.attributes[_ISSUER] = _common_name(certificate.get("issuer", ()))
        identity = await self._admit(client_session)
        if identity is None:
            handler.attach(client_session, reader, writer)
            with contextlib.suppress(OSError):  # the client may be gone already
                await handler.mqtt_connack_authorize(False)
                await writer.close()
            return None
        client_id = client_session.client_id = identity.base_topic  # see broker.sessions.session_key
        connection = await self._connections.take_over(client_id, lambda: _drop(writer))
        try:
            session = await self._open_session(client_session)
            self._emit(identity, "device_connected", ip_address=session.remote_address)
            return await super()._handle_client_session(reader, writer, session, handler, *args)
        finally:
            self._connections.ended(client_id, connection)

    async def _admit(self, session: Session) -> DeviceIdentity | None:
        """The device a CONNECT authenticates as, if its credentials, client id and will are its own."""
        identity = DeviceIdentity.from_username(session.username)
        issuer = session.attributes.get(_ISSUER)
        if identity is None:
            allowed = False
        elif issuer is not None:
            proven = issuer == realm_ca_name(identity.realm)
            allowed = proven and await self._authenticate_device(identity, None)
        else:
            allowed = await self._authenticate_device(identity, session.password or "")
        if identity is None or not allowed:
            log.info("refused CONNECT from %s as %r", session.remote_address, session.username)
            return None
        why = refusal(self.interfaces, identity, session.client_id, Will.of(session))
        if why is not None:
            log.info("refused CONNECT of %s from %s: %s", identity.base_topic, session.remote_address, why)
            return None
        return identity

    async def _open_session(self, incoming: Session) -> Session:
        """The session an admitted CONNECT gets: a fresh one, or the device's persistent one resumed."""
        client_id = incoming.client_id or ""
        existing = self._sessions.get(client_id, (None, None))[0]
        if existing is not None and (incoming.clean_session or existing.clean_session):
            await self._delete_session(client_id)
            existing = None
        if existing is None:
            session = incoming
            session.parent = 0
        else:
            for name in _RENEWED:
                setattr(existing, name, getattr(incoming, name))
            existing.attributes.update(incoming.attributes)
            session = existing
            session.parent = 1  # CONNACK's session present flag
        session.attributes[_ADMITTED] = True
        return session

    @staticmethod
    def identity_of(session: Session | None) -> DeviceIdentity | None:
        """The device a session belongs to; only authenticated sessions get as far as publishing."""
        return DeviceIdentity.from_username(session.username) if session is not None else None

    async def _authenticate(self, session: Session, _listener: Any) -> bool:
        # amqtt's flow runs only for sessions _handle_client_session admitted.
        return bool(session.attributes.pop(_ADMITTED, False))

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
        # amqtt would hand the will to subscribers (and retain it) itself: here it is a reading.
        will = Will.of(client_session)
        client_session.will_flag = False
        await super()._handle_disconnect(client_session, *args, **kwargs)
        identity = self.identity_of(client_session)
        if identity is None:
            return
        waiter = args[1] if len(args) > 1 else kwargs.get("disconnect_waiter")
        graceful = waiter is not None and isinstance(waiter.result(), DisconnectPacket)
        if will is not None and not graceful:
            self.keep(asyncio.create_task(self._send_will(identity, will)))
        handler = args[0] if args else kwargs.get("handler")
        counts = getattr(handler, "_counts", None) or {}
        self._emit(identity, "device_disconnected", metadata={"exchanged": json.dumps(counts)})

    async def _send_will(self, identity: DeviceIdentity, will: Will) -> None:
        try:
            await self.ingest.publish(identity, will.topic, will.payload, will.qos)
        except Exception:  # a will that cannot be taken must not break the broker
            log.exception("could not take the will of %s on %s", identity.base_topic, will.topic)

    async def _publish_session_retained_messages(self, session: Session) -> None:
        # Messages queued while the device was offline were never retained: they go out with RETAIN=0
        # (amqtt sets it), in the order they were queued.
        handler = self._get_handler(session)
        if handler is None:
            return
        sending = []
        while not session.retained_messages.empty():
            queued = session.retained_messages.get_nowait()
            sending.append(
                asyncio.ensure_future(
                    handler.mqtt_publish(queued.topic, queued.data, queued.qos, retain=False)
                )
            )
        if sending:
            await asyncio.wait(sending)

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


async def _drop(writer: Any) -> None:
    """Close a connection at once, without waiting for its peer to read what is pending."""
    stream = getattr(writer, "_writer", None)
    if isinstance(stream, asyncio.StreamWriter):
        stream.transport.abort()
    else:
        await writer.close()


def _common_name(name: Any) -> str | None:
    """The commonName of a decoded certificate name (``ssl``'s tuple of RDN tuples)."""
    for rdn in name:
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
