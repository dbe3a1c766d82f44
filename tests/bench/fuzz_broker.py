"""Fuzz the broker with mutated MQTT packets while a well-behaved device publishes: print what happened.

A script, not a test. It starts a fresh ``headwater up`` (temporary data dir, free ports),
provisions ``--connections`` devices for the fuzzing and one more that publishes QoS 1
readings every 20 ms over a raw socket, timing each PUBACK. Each fuzz case connects as one
of the fuzzing devices, sends one packet (a valid packet of some type, mutated with a seeded
random generator), then waits ``--wait`` seconds and files the connection as:

- ``closed``: the broker closed it;
- ``answered``: the broker wrote something back (and kept it open);
- ``alive``: silent, but a PINGREQ sent afterwards got its PINGRESP;
- ``hung``: silent, and silent to that PINGREQ too (neither answered nor closed).

Then it prints the counts, the first hung packets, and the PUBACK latencies of the
well-behaved device (max and 99th percentile)::

    .venv/bin/python tests/bench/fuzz_broker.py [--cases 4000] [--connections 40] [--seed 1]

``--attack`` replaces the fuzz cases by one misbehaving connection for ``--seconds``, to
see what it does to the well-behaved device: ``none`` (the baseline), ``rejected`` (QoS 1
PUBLISHes with a payload that is refused, written as fast as the socket takes them, so
every one goes to the dead-letter topic) or ``deaf`` (valid QoS 1 PUBLISHes from a device
that never reads its PUBACKs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.e2e.conftest import Provisioned, Running, provision, start_up
from tests.helpers import remaining_length, temperature_interface

PAYLOAD = b'{"v": 1.5, "t": "2026-01-01T00:00:00Z"}'


def _string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + remaining_length(len(body)) + body


def connect_packet(device: Provisioned, keep_alive: int = 60) -> bytes:
    body = _string("MQTT") + bytes([4, 0xC2]) + keep_alive.to_bytes(2, "big")
    return _packet(0x10, body + _string(device.base) + _string(device.base) + _string(device.secret))


def templates(device: Provisioned) -> list[bytes]:
    """One valid packet of each kind a client sends after CONNECT."""
    topic = f"{device.base}/org.acme.Temperature/s1/value"
    return [
        _packet(0x30, _string(topic) + PAYLOAD),
        _packet(0x32, _string(topic) + b"\x00\x05" + PAYLOAD),
        _packet(0x34, _string(topic) + b"\x00\x06" + PAYLOAD),
        b"\x40\x02\x00\x07",
        b"\x50\x02\x00\x07",
        b"\x62\x02\x00\x07",
        b"\x70\x02\x00\x07",
        _packet(0x82, b"\x00\x08" + _string(f"{device.base}/#") + b"\x01"),
        _packet(0xA2, b"\x00\x09" + _string(f"{device.base}/#")),
        b"\xc0\x00",
        b"\xe0\x00",
    ]


def mutate(packet: bytes, rng: random.Random) -> bytes:
    """A packet damaged one of several ways (or, rarely, left whole)."""
    data = bytearray(packet)
    how = rng.randrange(7)
    if how == 0:  # a random byte changed
        data[rng.randrange(len(data))] = rng.randrange(256)
    elif how == 1:  # the remaining length changed, the body kept
        data[1] = rng.randrange(128)
    elif how == 2:  # truncated body, remaining length fixed up
        body = data[2 : 2 + rng.randrange(max(1, len(data) - 1))]
        data = bytearray([data[0], len(body)]) + body
    elif how == 3:  # other flags
        data[0] = (data[0] & 0xF0) | rng.randrange(16)
    elif how == 4:  # another packet type with this body
        data[0] = (rng.randrange(16) << 4) | (data[0] & 0x0F)
    elif how == 5:  # random bytes
        data = bytearray(rng.randbytes(rng.randrange(1, 12)))
    return bytes(data)


async def _outcome(device: Provisioned, port: int, packet: bytes, wait: float) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(connect_packet(device))
        if await asyncio.wait_for(reader.readexactly(4), 10) != b"\x20\x02\x00\x00":
            return "refused"
        writer.write(packet)
        try:
            got = await asyncio.wait_for(reader.read(1024), wait)
        except TimeoutError:
            got = None
        if got == b"":
            return "closed"
        if got:
            return "answered"
        writer.write(b"\xc0\x00")
        try:
            got = await asyncio.wait_for(reader.read(1024), wait)
        except TimeoutError:
            return "hung"
        return "closed" if got == b"" else "alive"
    except (ConnectionError, asyncio.IncompleteReadError):
        return "closed"
    finally:
        writer.close()


async def _legit(device: Provisioned, port: int, stop: asyncio.Event, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(connect_packet(device))
    assert await reader.readexactly(4) == b"\x20\x02\x00\x00"
    topic = f"{device.base}/org.acme.Temperature/legit/value"
    packet_id = 0
    while not stop.is_set():
        packet_id = packet_id % 65535 + 1
        sent = time.monotonic()
        writer.write(_packet(0x32, _string(topic) + packet_id.to_bytes(2, "big") + PAYLOAD))
        ack = await asyncio.wait_for(reader.readexactly(4), 60)
        assert ack == b"\x40\x02" + packet_id.to_bytes(2, "big"), ack
        latencies.append(time.monotonic() - sent)
        await asyncio.sleep(0.02)
    writer.close()


async def _attack(device: Provisioned, port: int, kind: str, stop: asyncio.Event) -> str:
    """One misbehaving connection until ``stop``; what became of it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(connect_packet(device))
    assert await reader.readexactly(4) == b"\x20\x02\x00\x00"
    topic = f"{device.base}/org.acme.Temperature/bad/value"
    payload = b'{"v": "not a double"}' if kind == "rejected" else PAYLOAD
    sent = 0
    try:
        while not stop.is_set():
            burst = b"".join(
                _packet(0x32, _string(topic) + ((sent + i) % 65535 + 1).to_bytes(2, "big") + payload)
                for i in range(500)
            )
            writer.write(burst)
            await writer.drain()
            sent += 500
            if kind == "rejected":  # read (and drop) the PUBACKs, as a device would
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reader.read(1 << 16), 0.001)
    except ConnectionError:
        return f"{sent} PUBLISHes sent, then the broker closed the connection"
    finally:
        writer.close()
    return f"{sent} PUBLISHes sent"


async def run(platform: Running, args: argparse.Namespace) -> None:
    if args.attack:
        await run_attack(platform, args)
        return
    interface = temperature_interface()
    fuzzers = [provision(platform, interface, settle=0) for _ in range(args.connections)]
    legit_device = provision(platform, interface)
    rng = random.Random(args.seed)
    cases = []
    for index in range(args.cases):
        device = fuzzers[index % len(fuzzers)]
        cases.append((device, mutate(rng.choice(templates(device)), rng)))

    stop, latencies = asyncio.Event(), list[float]()
    legit = asyncio.create_task(_legit(legit_device, platform.mqtt_port, stop, latencies))
    counts: Counter[str] = Counter()
    hung: list[bytes] = []
    started = time.monotonic()
    for first in range(0, len(cases), len(fuzzers)):
        batch = cases[first : first + len(fuzzers)]
        outcomes = await asyncio.gather(
            *(_outcome(device, platform.mqtt_port, packet, args.wait) for device, packet in batch)
        )
        counts.update(outcomes)
        hung += [packet for (_, packet), outcome in zip(batch, outcomes, strict=True) if outcome == "hung"]
    stop.set()
    await legit
    print(f"{args.cases} cases in {time.monotonic() - started:.0f} s: {dict(sorted(counts.items()))}")
    for packet in hung[:15]:
        print("  hung:", packet.hex(" "))
    _print_latencies(latencies)


async def run_attack(platform: Running, args: argparse.Namespace) -> None:
    interface = temperature_interface()
    for kind in args.attack:
        attacker, legit_device = provision(platform, interface, settle=0), provision(platform, interface)
        stop, latencies = asyncio.Event(), list[float]()
        legit = asyncio.create_task(_legit(legit_device, platform.mqtt_port, stop, latencies))
        attack = None
        if kind != "none":
            attack = asyncio.create_task(_attack(attacker, platform.mqtt_port, kind, stop))
        await asyncio.sleep(args.seconds)
        stop.set()
        await legit
        print(f"attack {kind}: {await attack if attack is not None else 'none'}")
        _print_latencies(latencies)


def _print_latencies(latencies: list[float]) -> None:
    if not latencies:
        print("well-behaved device: no PUBACK at all")
        return
    ordered = sorted(latencies)
    print(
        f"well-behaved device: {len(latencies)} PUBACKs, median {statistics.median(ordered) * 1000:.1f} ms,"
        f" p99 {ordered[int(len(ordered) * 0.99)] * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=4000)
    parser.add_argument("--connections", type=int, default=40)
    parser.add_argument("--wait", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--attack", nargs="+", choices=["none", "rejected", "deaf"])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="hw-fuzz-"))
    platform = start_up(workdir / "data")
    try:
        asyncio.run(run(platform, args))
    finally:
        platform.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
