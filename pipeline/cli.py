"""The ``headwater`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

from pipeline.commands import auth as auth_commands
from pipeline.commands import device as device_commands
from pipeline.commands import dlq as dlq_commands
from pipeline.commands import interface as interface_commands
from pipeline.commands import jwts as jwt_commands
from pipeline.commands import query as query_commands
from pipeline.commands import realm as realm_commands
from pipeline.commands import trigger as trigger_commands
from pipeline.commands import utils as utils_commands
from pipeline.settings import load_settings

app = typer.Typer(help="Headwater: an Astarte-compatible IoT telemetry platform.", no_args_is_help=True)
app.add_typer(interface_commands.app, name="interface")
app.add_typer(auth_commands.app, name="auth")
app.add_typer(auth_commands.config_app, name="config")
app.command("whoami")(auth_commands.whoami)
utils_commands.app.command("gen-keypair")(jwt_commands.gen_keypair)
utils_commands.app.command("gen-jwt")(jwt_commands.gen_jwt)
app.add_typer(realm_commands.app, name="realm")
app.add_typer(device_commands.app, name="device")
app.add_typer(utils_commands.app, name="utils")
app.add_typer(query_commands.app, name="query")
app.add_typer(trigger_commands.app, name="trigger")
app.add_typer(trigger_commands.policy_app, name="policy")
app.add_typer(dlq_commands.app, name="dlq")
app.command("send")(device_commands.send)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file (HEADWATER_* variables override it).")
]


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("aiokafka", "amqtt", "faust", "mode", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(help="Where state is kept.")] = Path("./headwater-data"),
    mqtt_port: Annotated[int, typer.Option(help="MQTT listener port.")] = 1883,
    mqtts_port: Annotated[int, typer.Option(help="MQTT over TLS listener port.")] = 8883,
    api_port: Annotated[int, typer.Option(help="HTTP API port.")] = 4000,
    kafka_port: Annotated[int, typer.Option(help="Embedded Kafka (Tansu) port.")] = 9092,
) -> None:
    """Run the whole platform embedded: Kafka (Tansu), broker, worker and API."""
    from pipeline.runner import UpOptions
    from pipeline.runner import up as run_up

    raise typer.Exit(run_up(UpOptions(data_dir, mqtt_port, mqtts_port, api_port, kafka_port)))


@app.command()
def broker(config: ConfigOption = None, verbose: bool = False) -> None:
    """Run an MQTT broker instance (production: scale horizontally)."""
    from broker.service import serve

    _logging(verbose)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_until_terminated(serve(load_settings(config))))


@app.command()
def worker(
    config: ConfigOption = None,
    with_api: Annotated[bool, typer.Option(help="Serve the HTTP API from this process too.")] = False,
    verbose: bool = False,
) -> None:
    """Run a stream-processing worker (persistence); health and metrics on the API port."""
    from pipeline.worker import serve

    _logging(verbose)
    asyncio.run(serve(load_settings(config), worker=True, api=with_api))


@app.command()
def api(config: ConfigOption = None, verbose: bool = False) -> None:
    """Run the HTTP API alone (production: ClickHouse over HTTP)."""
    from pipeline.worker import serve

    _logging(verbose)
    asyncio.run(serve(load_settings(config), worker=False, api=True))


@app.command()
def bench(
    *,
    api: Annotated[str, typer.Option(help="The HTTP API, e.g. http://127.0.0.1:4000.")],
    mqtt: Annotated[str, typer.Option(help="The MQTT listener as HOST:PORT.")],
    data_dir: Annotated[Path, typer.Option(help="The instance's data dir (admin.key is read from it).")],
    readings: Annotated[int, typer.Option(help="Readings timed for freshness.")] = 1000,
    rate: Annotated[float, typer.Option(help="Freshness publish rate, readings/s.")] = 200.0,
    clients: Annotated[int, typer.Option(help="Throughput: devices publishing at once.")] = 8,
    per_client: Annotated[int, typer.Option(help="Throughput: QoS 1 PUBLISHes per device.")] = 20_000,
    runs: Annotated[int, typer.Option(help="Throughput runs.")] = 1,
    realm: Annotated[str | None, typer.Option(help="Realm to use (default: a new one).")] = None,
) -> None:
    """Measure a running instance: freshness (publish -> queryable) and end-to-end throughput."""
    from pipeline.bench import BenchError, BenchOptions, Target, run

    try:
        target = Target.from_args(api, mqtt, data_dir)
        run(target, BenchOptions(readings, rate, clients, per_client, runs, realm))
    except BenchError as exc:
        typer.echo(f"headwater bench: {exc}", err=True)
        raise typer.Exit(1) from exc


async def _until_terminated(service: Coroutine[Any, Any, None]) -> None:
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(service)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main() -> None:
    app()


if __name__ == "__main__":
    main()
