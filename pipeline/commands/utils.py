"""``headwater utils``: offline helpers (device ids)."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from pipeline.commands.common import console, fail
from schemas.names import device_id_from_string, random_device_id

app = typer.Typer(help="Offline helpers.", no_args_is_help=True)
device_id = typer.Typer(help="Device ids.", no_args_is_help=True)
app.add_typer(device_id, name="device-id")


@device_id.command()
def generate() -> None:
    """Print a new random device id."""
    console.print(random_device_id(), highlight=False)


@device_id.command("from-string")
def from_string(
    namespace: Annotated[str, typer.Argument(help="A UUID naming your id space.")],
    data: Annotated[str, typer.Argument(help="What identifies the device (serial, MAC, ...).")],
) -> None:
    """Print the stable device id of DATA in NAMESPACE (UUIDv5, as the Astarte SDKs compute it)."""
    try:
        space = uuid.UUID(namespace)
    except ValueError as exc:
        raise fail(f"namespace {namespace!r} is not a UUID") from exc
    console.print(device_id_from_string(space, data), highlight=False)
