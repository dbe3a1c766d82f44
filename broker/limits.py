"""What one device connection may hold of the broker: packet size, time to CONNECT, work in flight.

MQTT 3.1.1 leaves these to the server. They keep a misbehaving connection from
holding memory or the shared path to Kafka: past a limit, that connection's
reader waits (its device is slowed down through TCP) or the connection is closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from broker.framing import MAX_REMAINING_LENGTH

if TYPE_CHECKING:
    from pipeline.settings import MqttSettings


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Per-connection limits of the broker (``mqtt.*`` settings)."""

    # A socket that has not sent a whole CONNECT by then is closed.
    connect_timeout_s: float = 10.0
    # A packet declaring a longer remaining length is refused from its fixed header, unbuffered.
    max_packet_bytes: int = MAX_REMAINING_LENGTH
    # Packets of one connection on the general path at once (refusals, control, QoS 2, SUBSCRIBE...).
    max_inflight: int = 16
    # QoS 1 PUBLISHes of one connection taken but not yet acknowledged (waiting for Kafka).
    max_pending_acks: int = 10_000
    # Bytes written to the device that it has not read yet; past this it is dropped as a slow reader.
    max_unread_bytes: int = 1 << 20

    @classmethod
    def from_settings(cls, mqtt: MqttSettings) -> ConnectionLimits:
        return cls(
            connect_timeout_s=mqtt.connect_timeout_s,
            max_packet_bytes=mqtt.max_packet_bytes,
            max_inflight=mqtt.max_inflight_per_connection,
            max_pending_acks=mqtt.max_pending_acks_per_connection,
            max_unread_bytes=mqtt.max_unread_bytes,
        )
