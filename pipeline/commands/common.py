"""Options and output shared by the commands that talk to the API."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from pipeline.commands import contexts

Url = Annotated[str, typer.Option("--url", envvar="HEADWATER_URL", help="Headwater API address.")]
Key = Annotated[str | None, typer.Option("--key", envvar="HEADWATER_API_KEY", help="API key.")]
Realm = Annotated[str, typer.Option("--realm", "-r", envvar="HEADWATER_REALM", help="Realm name.")]
Output = Annotated[str, typer.Option("--output", "-o", help="table or json.")]
DEFAULT_URL = contexts.default_url()  # the config file's current context, else http://127.0.0.1:4000

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> typer.Exit:
    """Print an error and give the exit to raise."""
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(1)


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data))
