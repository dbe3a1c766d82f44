"""The embedded MQTT broker: amqtt, with Headwater owning authentication and PUBLISH handling.

Stock amqtt acknowledges a QoS 1 PUBLISH before anything has stored it and fans
messages out through per-message queues. Here a device's PUBLISH goes straight
to :class:`~broker.ingest.Ingest`, and the PUBACK (or PUBREC) is sent only once
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
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.mqtt.pubcomp import PubcompPacket
from amqtt.mqtt.pubrec import PubrecPacket
from amqtt.mqtt.pubrel import PubrelPacket
from amqtt.session import OUTGOING

from broker.topics import DeviceIdentity, may_subscribe
from pipeline.pki import realm_ca_name
from schemas.interface import Ownership

if TYPE_CHECKING:
    from amqtt.mqtt.publish import PublishPacket
    from amqtt.session import Session

    from broker.ingest import Counts, Ingest
    from broker.interfaces import InterfaceCache

log = logging.getLogger(__name__)

Authenticator = Callable[[DeviceIdentity, str | None], Awaitable[bool]]
"""Whether a device may connect: with its credentials secret, or (None) already proven by certificate."""

_ISSUER = "_headwater_issuer"


# A PUBACK: packet type 4, remaining length 2, then the packet id.
_PUBACK = b"\x40\x02"


class DeviceHandler(BrokerProtocolHandler):
    """A device connection's protocol handler; its PUBLISH flow is Headwater's."""

    gateway: HeadwaterBroker
    _qos2_stored: set[int]
    _pending_acks: bytearray
    _ack_scheduled: bool
    _counts: Counts

    async def handle_publish(self, publish_packet: PublishPacket) -> None:
        header = publish_packet.variable_header
        packet_id = header.packet_id if header else None
        topic, payload, qos = publish_packet.topic_name, publish_packet.data, publish_packet.qos or 0
        identity = self.gateway.identity_of(self.session)
        if topic is None or identity is None:
            return
        if qos == 2 and packet_id in self._qos2_stored:
            # A redelivered QoS 2 PUBLISH that is already stored: answer again, store nothing.
            await self._send_packet(PubrecPacket.build(packet_id))
            return
        try:
            await self.gateway.ingest.publish(identity, topic, bytes(payload or b""), qos, self._counts)
        except Exception:  # the device's messages must not crash the broker; unacked, it will resend
            log.exception(
                "could not take a PUBLISH on %s; closing the connection so the device resends", topic
            )
            if self.writer is not None:
                await self.writer.close()
            return
        if packet_id is None:
            return
        if qos == 1:
            self._acknowledge(packet_id)
        elif qos == 2:
            self._qos2_stored.add(packet_id)
            await self._send_packet(PubrecPacket.build(packet_id))

    async def _handle_qos1_message_flow(self, app_message: Any) -> None:
        if app_message.direction != OUTGOING:
            await super()._handle_qos1_message_flow(app_message)
            return
        # amqtt gives up after a fixed 5 s and forgets the message (its #391, #401). Here the message
        # stays in flight until the device acknowledges it, and a persistent session that reconnects
        # gets it again (amqtt resends inflight_out when a handler starts).
        session, packet_id = self.session, app_message.packet_id
        session.inflight_out[packet_id] = app_message
        await self._send_outgoing(app_message)
        app_message.puback_packet = await self._wait(self._puback_waiters, packet_id)
        session.inflight_out.pop(packet_id, None)

    async def _handle_qos2_message_flow(self, app_message: Any) -> None:
        if app_message.direction != OUTGOING:
            await super()._handle_qos2_message_flow(app_message)
            return
        session, packet_id = self.session, app_message.packet_id
        session.inflight_out[packet_id] = app_message
        if app_message.pubrec_packet is None:
            await self._send_outgoing(app_message)
            app_message.pubrec_packet = await self._wait(self._pubrec_waiters, packet_id)
        app_message.pubrel_packet = PubrelPacket.build(packet_id)
        await self._send_packet(app_message.pubrel_packet)
        app_message.pubcomp_packet = await self._wait(self._pubcomp_waiters, packet_id)
        session.inflight_out.pop(packet_id, None)

    async def _send_outgoing(self, app_message: Any) -> None:
        retry = app_message.publish_packet is not None
        app_message.publish_packet = app_message.build_publish_packet(dup=retry)
        await self._send_packet(app_message.publish_packet)

    @staticmethod
    async def _wait(waiters: dict[int, asyncio.Future[Any]], packet_id: int) -> Any:
        # No deadline: the device answers, or the connection ends (cancelling this wait).
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        waiters[packet_id] = waiter
        try:
            return await waiter
        finally:
            waiters.pop(packet_id, None)

    def _acknowledge(self, packet_id: int) -> None:
        # One write for all the PUBACKs ready in this turn of the event loop, instead of amqtt's
        # per-packet lock, drain, timer reset and plugin event (the broker's write timeout is a no-op).
        self._pending_acks += _PUBACK + packet_id.to_bytes(2, "big")
        if not self._ack_scheduled:
            self._ack_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_acknowledgements)

    def _flush_acknowledgements(self) -> None:
        self._ack_scheduled = False
        data, self._pending_acks = bytes(self._pending_acks), bytearray()
        stream = getattr(self.writer, "_writer", None)
        if data and stream is not None and not stream.is_closing():
            stream.write(data)

    async def handle_pubrel(self, pubrel: PubrelPacket) -> None:
        packet_id = pubrel.packet_id
        if packet_id in self._qos2_stored:
            self._qos2_stored.discard(packet_id)
            await self._send_packet(PubcompPacket.build(packet_id))
            return
        await super().handle_pubrel(pubrel)


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
    ) -> None:
        super().__init__(config)
        self.ingest = ingest
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
        handler, session = await super()._initialize_client_session(*args, **kwargs)
        # amqtt builds the handler itself; DeviceHandler only overrides methods, so promoting the
        # instance is safe and avoids re-implementing CONNECT parsing.
        handler.__class__ = DeviceHandler
        handler.gateway = self
        handler._qos2_stored = set()
        handler._pending_acks = bytearray()
        handler._ack_scheduled = False
        handler._counts = {}
        return handler, session

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
        task = asyncio.create_task(self._send_event(identity, kind, **fields))
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
