"""``headwater realm``: realms through Housekeeping (astartectl housekeeping realms)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.client import ApiClient, ApiError
from pipeline.commands.common import DEFAULT_URL, Key, Output, Url, console, fail, print_json

app = typer.Typer(help="List, show, create, update and delete realms.", no_args_is_help=True)

PublicKey = Annotated[
    Path | None, typer.Option("--public-key", help="PEM file: the key Astarte JWTs of the realm verify with.")
]
Limit = Annotated[
    int | None, typer.Option("--device-registration-limit", help="Most devices the realm may register.")
]
Retention = Annotated[
    int | None,
    typer.Option("--datastream-maximum-storage-retention", help="Longest datastream lifetime, in seconds."),
]


def _settings(public_key: Path | None, limit: int | None, retention: int | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if public_key is not None:
        try:
            data["jwt_public_key_pem"] = public_key.read_text()
        except OSError as exc:
            raise fail(f"{public_key}: {exc.strerror}") from exc
    if limit is not None:
        data["device_registration_limit"] = limit
    if retention is not None:
        data["datastream_maximum_storage_retention"] = retention
    return data


def _call(url: str, key: str | None, method: str, path: str, **kwargs: Any) -> Any:
    with ApiClient(url, key) as api:
        try:
            return api.request(method, f"/housekeeping/v1/realms{path}", **kwargs)
        except ApiError as exc:
            raise fail(str(exc)) from exc


@app.command("list")
def list_(url: Url = DEFAULT_URL, key: Key = None, output: Output = "table") -> None:
    """List the realms the key may see (all of them for global admins)."""
    names = _call(url, key, "GET", "")
    if output == "json":
        print_json(names)
        return
    for name in names:
        console.print(name, highlight=False)


@app.command()
def show(name: str, url: Url = DEFAULT_URL, key: Key = None, output: Output = "table") -> None:
    """Print a realm's settings."""
    realm = _call(url, key, "GET", f"/{name}")
    if output == "json":
        print_json(realm)
        return
    table = Table("setting", "value")
    for field, value in realm.items():
        shown = "(set)" if field == "jwt_public_key_pem" else str(value)
        table.add_row(field, shown)
    console.print(table)


@app.command()
def create(
    name: str,
    *,
    public_key: PublicKey = None,
    device_registration_limit: Limit = None,
    datastream_maximum_storage_retention: Retention = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Create a realm (name: a lowercase letter, then up to 47 lowercase letters or digits)."""
    data = {"realm_name": name} | _settings(
        public_key, device_registration_limit, datastream_maximum_storage_retention
    )
    _call(url, key, "POST", "", json={"data": data})
    console.print(f"realm {name} created", highlight=False)


@app.command()
def update(
    name: str,
    *,
    public_key: PublicKey = None,
    device_registration_limit: Limit = None,
    datastream_maximum_storage_retention: Retention = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Change the settings given."""
    data = _settings(public_key, device_registration_limit, datastream_maximum_storage_retention)
    if not data:
        raise fail("nothing to change: give --public-key, --device-registration-limit or --datastream-...")
    _call(url, key, "PATCH", f"/{name}", json={"data": data})
    console.print(f"realm {name} updated", highlight=False)


@app.command()
def delete(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Delete a realm with its interfaces, devices and members."""
    if not yes:
        typer.confirm(f"Delete realm {name} with all its devices and data?", abort=True)
    _call(url, key, "DELETE", f"/{name}")
    console.print(f"realm {name} deleted", highlight=False)
