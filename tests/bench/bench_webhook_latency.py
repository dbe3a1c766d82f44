"""Print p50/p99 from a device's MQTT publish to its trigger's webhook received, under a steady load.

A script, not a test: it starts ``headwater up`` in a temporary folder, a local
HTTP receiver, one device publishing QoS 1 at ``--rate`` messages/s, and an
``incoming_data`` trigger that fires on every reading::

    /work/venv/bin/python -m tests.bench.bench_webhook_latency [--rate 200] [--seconds 10]

Each payload carries its send time, so latency = received at - sent at.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import bson
import paho.mqtt.client as mqtt

from tests.e2e.conftest import provision, start_up
from tests.e2e.test_triggers_webhooks import IFACE, install
from tests.e2e.webhook_receiver import serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the instance's data and logs here")
    args = parser.parse_args()
    receiver, server = serve()
    with tempfile.TemporaryDirectory() as folder:
        platform = start_up(args.data_dir or Path(folder) / "data")
        try:
            device = provision(platform, IFACE, settle=0)
            trigger = {
                "name": "every",
                "action": {"http_url": receiver.url("/every"), "http_method": "post"},
                "simple_triggers": [
                    {
                        "type": "data_trigger",
                        "on": "incoming_data",
                        "interface_name": "org.acme.Hot",
                        "interface_major": 1,
                        "match_path": "/value",
                        "value_match_operator": "*",
                    }
                ],
            }
            install(platform, device.realm, "triggers", trigger)
            time.sleep(1.5)
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device.base)
            client.username_pw_set(device.base, device.secret)
            client.connect("127.0.0.1", platform.mqtt_port)
            client.loop_start()
            client.publish(device.base, b"org.acme.Hot:1:0", qos=2).wait_for_publish(10)
            total = int(args.rate * args.seconds)
            started = time.monotonic()
            for i in range(total):
                delay = started + i / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                payload = bson.encode({"v": time.time()})
                client.publish(f"{device.base}/org.acme.Hot/value", payload, qos=1)
            received = receiver.wait("/every", total, within=60 + args.seconds)
            client.disconnect()
            client.loop_stop()
        finally:
            platform.stop()
            server.shutdown()
    latencies = sorted((r.at - r.json()["event"]["value"]) * 1000 for r in received)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"publish -> webhook, {total} messages at {args.rate:.0f}/s (QoS 1, one device): "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
