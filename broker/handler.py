"""A device connection's protocol handler: amqtt's, with Headwater's reader and PUBLISH flow.

Stock amqtt reads every packet with several awaits, wraps each read in
``wait_for``, fires a plugin event and starts a task per packet, then sends
each PUBACK under a lock before anything has stored the message. Here the
reader cuts whole socket reads into packets (``broker.framing``), takes each
data PUBLISH synchronously into the forwarder's batch, and the PUBACK goes out
once Kafka acknowledged that batch: in the order the PUBLISHes came, coalesced
into one write per turn of the event loop. Anything else (control and
introspection messages, refused data, QoS 2, packets other than PUBLISH) keeps
the general path. WebSocket connections keep amqtt's reader.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from amqtt.adapters import BufferReader
from amqtt.mqtt import packet_dict
from amqtt.mqtt.constants import QOS_1
from amqtt.mqtt.disconnect import DisconnectPacket
from amqtt.mqtt.packet import MQTTFixedHeader
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.mqtt.pubcomp import PubcompPacket
from amqtt.mqtt.pubrec import PubrecPacket
from amqtt.mqtt.pubrel import PubrelPacket
from amqtt.session import OUTGOING

from broker.errors import ConnectionLimitError
from broker.framing import DISCONNECT, PUBLISH, FramingError, Publish, check_packet, frames, parse_publish
from broker.ingest import RECEIVED, now_us
from broker.resends import FirstSeen, first_seen
from broker.topics import TopicKind, route
from schemas.payload import Rejection

if TYPE_CHECKING:
    from amqtt.mqtt.publish import PublishPacket

    from broker.ingest import Counts
    from broker.server import HeadwaterBroker
    from broker.topics import DeviceIdentity

log = logging.getLogger(__name__)

# A PUBACK: packet type 4, remaining length 2, then the packet id.
_PUBACK = b"\x40\x02"
_READ_SIZE = 1 << 16
# MQTT 3.1.1 §3.1.2.10: a server closes a connection silent for one and a half keep-alives.
_KEEPALIVE_GRACE = 1.5

# How often a reader waiting for room checks whether its device still reads what it is sent.
_PROGRESS_CHECK_S = 1.0

# The packets a client sends besides CONNECT, PUBLISH and DISCONNECT (``check_packet`` refuses others).
_HANDLERS = {
    4: "handle_puback",
    5: "handle_pubrec",
    6: "handle_pubrel",
    7: "handle_pubcomp",
    8: "handle_subscribe",
    10: "handle_unsubscribe",
    12: "handle_pingreq",
}


class DeviceHandler(BrokerProtocolHandler):
    """A device connection's protocol handler; its reader and PUBLISH flow are Headwater's."""

    gateway: HeadwaterBroker
    _qos2_stored: set[int]
    _pending_acks: bytearray
    _ack_scheduled: bool
    _counts: Counts
    _acks: deque[tuple[int, asyncio.Future[None]]]
    _watched: asyncio.Future[None] | None
    _first_seen: FirstSeen | None

    def adopt(self, gateway: HeadwaterBroker) -> None:
        """Set up Headwater's state on a handler amqtt built as its own class."""
        self.gateway = gateway
        self._qos2_stored = set()
        self._pending_acks = bytearray()
        self._ack_scheduled = False
        self._counts = {}
        self._acks = deque()
        self._watched = None
        self._first_seen = None

    # reading

    async def _reader_loop(self) -> None:
        stream = getattr(self.reader, "_reader", None)
        identity = self.gateway.identity_of(self.session)
        if not isinstance(stream, asyncio.StreamReader) or identity is None or self._reader_ready is None:
            await super()._reader_loop()
            return
        limits = self.gateway.limits
        keep_alive = self.session.keep_alive if self.session is not None else 0
        timeout = keep_alive * _KEEPALIVE_GRACE if keep_alive and keep_alive > 0 else None
        tasks: set[asyncio.Task[None]] = set()
        buffer = bytearray()
        # The buffer holds at most one incomplete packet (up to max_packet_bytes) and one read.
        try:
            while True:
                self._reader_ready.set()
                try:
                    chunk = await asyncio.wait_for(stream.read(_READ_SIZE), timeout)
                except TimeoutError:
                    log.info("closing %s: silent for %.0f s", identity.base_topic, timeout)
                    break
                if not chunk:
                    break
                buffer += chunk
                found, consumed = frames(buffer, 0, limits.max_packet_bytes)
                if not await self._take(identity, buffer, found, tasks):
                    break
                del buffer[:consumed]
                await self.gateway.ingest.room()
                await self._within_limits(tasks)
        except (FramingError, ConnectionLimitError) as exc:
            log.info("closing %s: %s", identity.base_topic, exc)
        except (asyncio.CancelledError, ConnectionError):
            pass
        except Exception:  # whatever a device sent, its connection closes rather than hangs
            log.exception("closing %s: a packet could not be handled", identity.base_topic)
        finally:
            for task in tasks:
                task.cancel()
        await self.handle_connection_closed()
        self._reader_stopped.set()
        await self.stop()

    async def _take(
        self, identity: DeviceIdentity, buffer: bytearray, found: list[Any], tasks: set[asyncio.Task[None]]
    ) -> bool:
        """Handle the packets of one read; False once the connection must close."""
        fast = [0, 0, 0]
        try:
            for frame in found:
                if frame.packet_type == PUBLISH:
                    publish = parse_publish(buffer, frame)
                    if not self._take_publish(identity, publish):
                        await self._spawn(tasks, self._publish(identity, publish))
                    else:
                        fast[publish.qos] += 1
                    continue
                check_packet(buffer, frame)
                if frame.packet_type == DISCONNECT:
                    await self.handle_disconnect(DisconnectPacket())
                    return False
                fixed = MQTTFixedHeader(frame.packet_type, frame.flags, frame.remaining_length)
                body = BufferReader(bytes(buffer[frame.start : frame.end]))
                try:
                    packet = await packet_dict[frame.packet_type].from_stream(body, fixed_header=fixed)
                except Exception as exc:  # checked above, so amqtt should not fail; if it does, close
                    raise FramingError(f"packet type {frame.packet_type} that amqtt cannot decode") from exc
                await self._spawn(tasks, getattr(self, _HANDLERS[frame.packet_type])(packet))
        finally:
            for qos, count in enumerate(fast):
                if count:
                    RECEIVED[qos].inc(count)
        return True

    async def _spawn(self, tasks: set[asyncio.Task[None]], work: Any) -> None:
        # One connection has at most max_inflight packets on the general path at once: beyond,
        # its reader waits (and TCP slows the device down) instead of piling up tasks.
        while len(tasks) >= self.gateway.limits.max_inflight:
            await self._progress(tasks)
        task = asyncio.create_task(work)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _within_limits(self, tasks: set[asyncio.Task[None]]) -> None:
        """Wait while this connection holds too many unacknowledged PUBLISHes; drop it if it stops reading."""
        limits = self.gateway.limits
        self._check_unread()
        while len(self._acks) >= limits.max_pending_acks:
            # asyncio.wait, not await: the oldest future is shared with other connections' readings.
            await asyncio.wait([self._acks[0][1]], timeout=_PROGRESS_CHECK_S)
            self._check_unread()

    async def _progress(self, tasks: set[asyncio.Task[None]]) -> None:
        await asyncio.wait(tasks, timeout=_PROGRESS_CHECK_S, return_when=asyncio.FIRST_COMPLETED)
        self._check_unread()

    def _check_unread(self) -> None:
        stream = getattr(self.writer, "_writer", None)
        if stream is None:
            return
        unread = stream.transport.get_write_buffer_size()
        if unread > self.gateway.limits.max_unread_bytes:
            raise ConnectionLimitError(
                f"{unread} bytes written to it are still unread; it is too slow a reader"
            )

    def _take_publish(self, identity: DeviceIdentity, publish: Publish) -> bool:
        """Take a valid QoS 0/1 data PUBLISH synchronously; False leaves it to the general path."""
        where = route(identity, publish.topic)
        if where.kind is TopicKind.INTROSPECTION:
            # Declared now, in read order: the data after it in this read is judged by it.
            self.gateway.ingest.introspections.declare(identity, publish.payload)
        if publish.qos == 2 or where.kind is not TopicKind.DATA:
            return False
        received = now_us()
        packet_id = publish.packet_id
        if packet_id is not None:  # a resend keeps the first attempt's reception time (broker.resends)
            received = (self._first_seen or self._remember()).received(packet_id, publish.dup, received)
        ingest = self.gateway.ingest
        taken = ingest.accept(identity, where, publish.payload, received, self._counts, packet_id=packet_id)
        if isinstance(taken, Rejection):
            return False
        if publish.qos == QOS_1 and publish.packet_id is not None:
            self._queue_ack(publish.packet_id, taken)
        elif taken is not self._watched:  # readings batched together share their future
            self._watched = taken
            taken.add_done_callback(self._forwarded)
        return True

    def _remember(self) -> FirstSeen:
        self._first_seen = first_seen(self.session)
        return self._first_seen

    async def _publish(self, identity: DeviceIdentity, publish: Publish) -> None:
        """The general path of a PUBLISH: refusals, control messages, introspection, QoS 2."""
        done: asyncio.Future[None] | None = None
        if publish.qos == 1 and publish.packet_id is not None:
            # Keep its place among the PUBACKs: the ones after it wait for it.
            done = asyncio.get_running_loop().create_future()
            self._queue_ack(publish.packet_id, done)
        try:
            stored = await self._store(
                identity, publish.topic, publish.payload, publish.qos, publish.packet_id
            )
        except BaseException:
            if done is not None:
                done.cancel()  # the connection ends: nothing from here on is acknowledged
            raise
        if done is not None:
            if stored:
                done.set_result(None)
            else:
                done.cancel()

    async def handle_publish(self, publish_packet: PublishPacket) -> None:
        # amqtt's reader (WebSocket connections) comes here, one task per PUBLISH.
        header = publish_packet.variable_header
        packet_id = header.packet_id if header else None
        topic, qos = publish_packet.topic_name, publish_packet.qos or 0
        identity = self.gateway.identity_of(self.session)
        if topic is None or identity is None:
            return
        stored = await self._store(identity, topic, bytes(publish_packet.data or b""), qos, packet_id)
        if stored and qos == 1 and packet_id is not None:
            self._acknowledge(packet_id)

    async def _store(
        self, identity: DeviceIdentity, topic: str, payload: bytes, qos: int, packet_id: int | None
    ) -> bool:
        """Hand one PUBLISH to ingest; False (the connection closing) if that failed."""
        if qos == 2 and packet_id in self._qos2_stored:
            # A redelivered QoS 2 PUBLISH that is already stored: answer again, store nothing.
            await self._send_packet(PubrecPacket.build(packet_id))
            return True
        try:
            ingest = self.gateway.ingest
            await ingest.publish(identity, topic, payload, qos, self._counts, packet_id=packet_id)
        except Exception:  # the device's messages must not crash the broker; unacked, it will resend
            log.exception("could not take a PUBLISH on %s; closing so the device resends it", topic)
            await self._close()
            return False
        if qos == 2 and packet_id is not None:
            self._qos2_stored.add(packet_id)
            await self._send_packet(PubrecPacket.build(packet_id))
        return True

    # acknowledging

    def _queue_ack(self, packet_id: int, stored: asyncio.Future[None]) -> None:
        acks = self._acks
        if not acks or acks[-1][1] is not stored:  # readings batched together share their future
            stored.add_done_callback(self._release_acks)
        acks.append((packet_id, stored))

    def _release_acks(self, done: asyncio.Future[None]) -> None:
        # PUBACKs leave in the order their PUBLISHes came (MQTT 3.1.1 §4.6).
        failed = not done.cancelled() and done.exception() is not None  # retrieved: no asyncio warning
        acks = self._acks
        while acks and acks[0][1].done():
            packet_id, stored = acks.popleft()
            if stored.cancelled() or stored.exception() is not None:
                # The connection is closing (or must): the device resends whatever is unacknowledged.
                acks.clear()
                break
            self._acknowledge(packet_id)
        if failed:
            self._forwarded(done)

    def _forwarded(self, stored: asyncio.Future[None]) -> None:
        if stored.cancelled() or stored.exception() is None:
            return
        log.warning("Kafka did not take a reading; closing the connection so the device resends")
        task = asyncio.get_running_loop().create_task(self._close())
        self.gateway.keep(task)

    async def _close(self) -> None:
        if self.writer is not None:
            await self.writer.close()

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

    # delivering to the device

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
