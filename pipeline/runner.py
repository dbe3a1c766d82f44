"""``headwater up``: the embedded platform in one command, with no other service.

It starts Tansu, a broker process and a worker+API process (chDB allows one
process per data path, so the ClickHouse writer and reader share one), waits
until ``/health`` passes, prints the addresses, restarts a child that stops
unexpectedly, and stops every child on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka.errors import KafkaError

from pipeline import kafka, metrics, ports, tansu
from pipeline.backoff import Backoff
from pipeline.errors import StartupError
from pipeline.metrics import MULTIPROCESS_ENV
from pipeline.pki import Pki
from pipeline.registry import Registry
from pipeline.settings import KafkaSettings, Settings, WorkerSettings

ADMIN_KEY_FILE = "admin.key"
STARTUP_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
DRAIN_TIMEOUT = 60.0


@dataclass(frozen=True)
class UpOptions:
    data_dir: Path
    mqtt_port: int = 1883
    mqtts_port: int = 8883
    api_port: int = 4000
    kafka_port: int = 9092
    host: str = "127.0.0.1"


def _die_with_parent() -> None:
    # Children get SIGTERM if `headwater up` itself is killed, so nothing is left running.
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


async def ensure_admin_key(settings: Settings) -> tuple[str, bool]:
    """The admin API key, created on first start: ``(key, created)``."""
    path = settings.data_dir / ADMIN_KEY_FILE
    if path.exists():
        return path.read_text().strip(), False
    async with Registry(settings.registry_url) as registry:
        key, _ = await registry.create_api_key("admin", global_role="admin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key, True


@dataclass
class Child:
    """One supervised process: how to start it, the running process, and its restart schedule."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]
    started: float
    backoff: Backoff = field(default_factory=Backoff)
    restart_at: float | None = None


class Supervisor:
    """Owns the child processes of ``headwater up``: starts them, restarts the ones that stop, stops them.

    A broker or worker that stops unexpectedly is started again after a backoff; the line
    saying so goes to stderr and ``headwater_child_restarts`` counts it. Tansu keeps its
    records in memory only: when it stops, what it held is gone, so it is started again with
    its topics, and the broker and the worker are restarted on the fresh Kafka.
    """

    def __init__(self, options: UpOptions, group_id: str = WorkerSettings().group_id) -> None:
        self.options = options
        self.group_id = group_id
        self.data_dir = options.data_dir.resolve()
        self.logs = self.data_dir / "logs"
        self.metrics_dir = self.data_dir / "metrics"
        self.children: dict[str, Child] = {}
        self._env: dict[str, str] = {}
        self._up = False

    def child_env(self) -> dict[str, str]:
        o = self.options
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        self.metrics_dir.mkdir(parents=True)
        env = dict(os.environ)
        env.update(
            {
                "HEADWATER_DATA_DIR": str(self.data_dir),
                "HEADWATER_KAFKA__BOOTSTRAP_SERVERS": f"{o.host}:{o.kafka_port}",
                "HEADWATER_KAFKA__IDEMPOTENCE": "false",
                "HEADWATER_MQTT__HOST": "0.0.0.0",
                "HEADWATER_MQTT__PORT": str(o.mqtt_port),
                "HEADWATER_MQTT__TLS_PORT": str(o.mqtts_port),
                "HEADWATER_API__HOST": o.host,
                "HEADWATER_API__PORT": str(o.api_port),
                "HEADWATER_METRICS_DIR": str(self.metrics_dir),
                MULTIPROCESS_ENV: str(self.metrics_dir),
            }
        )
        return env

    def spawn(self, name: str, argv: list[str]) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._env,
                # Their own session: a Ctrl-C in the terminal reaches `headwater up` alone, which
                # then stops the children in order (broker first, Tansu last).
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads run while spawning
            )
        previous = self.children.get(name)
        if previous is None:
            self.children[name] = Child(name, argv, process, time.monotonic())
        else:
            previous.process, previous.started, previous.restart_at = process, time.monotonic(), None

    def start(self) -> None:
        o = self.options
        for port, flag in (
            (o.mqtt_port, "--mqtt-port"),
            (o.mqtts_port, "--mqtts-port"),
            (o.api_port, "--api-port"),
            (o.kafka_port, "--kafka-port"),
        ):
            ports.ensure_free("0.0.0.0" if flag.startswith("--mqtt") else o.host, port, flag)
        # The root CA (and ca.pem) exist before the children start, so none races to create them.
        Pki(self.data_dir).root()
        self.logs.mkdir(parents=True, exist_ok=True)
        self._env = self.child_env()
        metrics.share_directory(self.metrics_dir)
        self._start_kafka()
        cli = [sys.executable, "-m", "pipeline.cli"]
        self.spawn("worker", [*cli, "worker", "--with-api"])
        self.spawn("broker", [*cli, "broker"])
        self._wait_for("the API", self._healthy, "worker")
        self._wait_for("the MQTT broker", lambda: ports.accepts(o.host, o.mqtt_port), "broker")
        self._up = True

    def _start_kafka(self) -> None:
        o = self.options
        url = f"tcp://{o.host}:{o.kafka_port}"
        argv = [tansu.binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
        self.spawn("tansu", argv)
        self._wait_for("Kafka (Tansu)", lambda: ports.accepts(o.host, o.kafka_port), "tansu")
        # Create the topics once, before the children race to do it.
        kafka_settings = KafkaSettings(bootstrap_servers=f"{o.host}:{o.kafka_port}", idempotence=False)
        asyncio.run(kafka.ensure_topics(kafka_settings))

    def _healthy(self) -> bool:
        try:
            answer = httpx.get(f"http://{self.options.host}:{self.options.api_port}/health", timeout=1)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200 and answer.json().get("status") == "pass"

    def _wait_for(self, what: str, ready: object, child: str) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            for name, running in self.children.items():
                # Once up, only the awaited child's exit matters: the others are tended.
                if (self._up is False or name == child) and running.process.poll() is not None:
                    raise StartupError(
                        f"{name} exited with code {running.process.returncode} while waiting for {what}; "
                        f"see {self.logs / (name + '.log')}"
                    )
            if ready():  # type: ignore[operator]
                return
            time.sleep(0.1)
        raise StartupError(
            f"{what} did not become ready within {STARTUP_TIMEOUT:.0f} s; see {self.logs / (child + '.log')}"
        )

    def tend(self) -> None:
        """Schedule a restart for each child that stopped, and restart those whose delay is over."""
        now = time.monotonic()
        for child in self.children.values():
            code = child.process.poll()
            if code is None:
                continue
            if child.restart_at is None:
                metrics.forget_process(child.process.pid, self.metrics_dir)
                delay = child.backoff.after_stop(now - child.started)
                child.restart_at = now + delay
                lost = (
                    " Its records were in memory only: what the worker had not stored yet is lost."
                    if child.name == "tansu"
                    else ""
                )
                _say(
                    f"{child.name} stopped unexpectedly ({_exit_status(code)}); restarting it in "
                    f"{delay:.1f} s (see {self.logs / (child.name + '.log')}).{lost}"
                )
            elif now >= child.restart_at:
                self._restart(child)

    def _restart(self, child: Child) -> None:
        if child.name == "tansu":
            self._start_kafka()
            # The broker and the worker keep offsets and metadata of the Kafka that is gone.
            for name in ("broker", "worker"):
                other = self.children[name]
                _stop(other.process)
                metrics.forget_process(other.process.pid, self.metrics_dir)
                self.spawn(name, other.argv)
                metrics.child_restarts.labels(name).inc()
        else:
            self.spawn(child.name, child.argv)
        metrics.child_restarts.labels(child.name).inc()
        _say(f"{child.name} restarted (pid {child.process.pid})")

    def stop(self) -> None:
        """Stop the broker first (it flushes what it took), let the worker store the rest, stop Tansu last."""
        broker = self.children.get("broker")
        if broker is not None:
            _stop(broker.process)
        self._drain()
        for name in ("worker", "tansu"):
            child = self.children.get(name)
            if child is not None:
                _stop(child.process)

    def _drain(self) -> None:
        """Wait (at most ``DRAIN_TIMEOUT``) until the worker committed every record Tansu holds."""
        running = [self.children.get(name) for name in ("worker", "tansu")]
        if not self._up or any(child is None or child.process.poll() is not None for child in running):
            return
        o = self.options
        settings = KafkaSettings(bootstrap_servers=f"{o.host}:{o.kafka_port}", idempotence=False)
        topics = kafka.Topics.of(settings)
        deadline = time.monotonic() + DRAIN_TIMEOUT
        told = False
        while True:
            try:
                left = asyncio.run(
                    kafka.unconsumed(settings, self.group_id, topics.ingest, topics.device_events)
                )
            except (KafkaError, OSError) as exc:
                _say(f"could not tell whether the worker stored everything: {exc}")
                return
            if left == 0:
                return
            if time.monotonic() > deadline:
                _say(f"stopping with {left} records not stored: Tansu's memory loses them")
                return
            if not told:
                _say(f"waiting for the worker to store {left} records before stopping Tansu")
                told = True
            time.sleep(0.5)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after a grace period."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _exit_status(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _say(line: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} headwater up: {line}", file=sys.stderr, flush=True)


def up(options: UpOptions) -> int:
    """Run the embedded platform until Ctrl-C or SIGTERM; the process exit code."""
    data_dir = options.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir)
    supervisor = Supervisor(options, settings.worker.group_id)
    stopping = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        key, created = asyncio.run(ensure_admin_key(settings))
        supervisor.start()
        host = options.host
        print(f"Headwater is up (data in {data_dir})")
        print(f"  MQTT        mqtt://{host}:{options.mqtt_port}")
        print(f"  MQTTS       mqtts://localhost:{options.mqtts_port}  (trust {data_dir / 'ca.pem'})")
        print(f"  HTTP API    http://{host}:{options.api_port}  (docs at /docs)")
        print(f"  Kafka       {host}:{options.kafka_port}  (Tansu: in memory, for development only)")
        if created:
            print(f"  admin key   {key}")
            print(f"              (shown once; kept in {data_dir / ADMIN_KEY_FILE})")
        else:
            print(f"  admin key   in {data_dir / ADMIN_KEY_FILE}")
        print("Press Ctrl-C to stop.", flush=True)
        while not stopping:
            supervisor.tend()
            time.sleep(0.2)
        return 0
    except StartupError as exc:
        print(f"headwater up: {exc}", file=sys.stderr)
        return 1
    finally:
        supervisor.stop()
