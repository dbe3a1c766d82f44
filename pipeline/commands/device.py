"""``headwater device`` and ``headwater send``: devices through AppEngine, Pairing and Realm Management."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from pipeline.client import ApiClient, ApiError
from pipeline.commands.common import DEFAULT_URL, Key, Output, Realm, Url, console, fail, print_json
from schemas.names import random_device_id

app = typer.Typer(help="Register, list, show, inhibit, unregister and delete devices.", no_args_is_help=True)


@app.command()
def register(
    realm: Realm,
    device_id: Annotated[str | None, typer.Argument(help="Device id; a random one when omitted.")] = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Register a device and print its credentials secret."""
    device_id = device_id or random_device_id()
    with ApiClient(url, key) as api:
        try:
            data = api.request(
                "POST", f"/pairing/v1/{realm}/agent/devices", json={"data": {"hw_id": device_id}}
            )
        except ApiError as exc:
            raise fail(str(exc)) from exc
    console.print(
        f"device id          {device_id}\ncredentials secret {data['credentials_secret']}", highlight=False
    )


@app.command("list")
def list_(realm: Realm, url: Url = DEFAULT_URL, key: Key = None, output: Output = "table") -> None:
    """List the realm's devices with their connection status (follows every page)."""
    statuses = []
    with ApiClient(url, key) as api:
        token: str | None = None
        try:
            while True:
                params = {"details": "true", **({"from_token": token} if token else {})}
                page = api.request("GET", f"/appengine/v1/{realm}/devices", params=params)
                statuses += page
                if len(page) < 1000:
                    break
                token = page[-1]["id"]
        except ApiError as exc:
            raise fail(str(exc)) from exc
    if output == "json":
        print_json(statuses)
        return
    table = Table("device id", "connected", "last connection", "received msgs", "inhibited")
    for status in statuses:
        table.add_row(
            status["id"],
            "yes" if status["connected"] else "no",
            status["last_connection"] or "-",
            str(status["total_received_msgs"]),
            "yes" if status["credentials_inhibited"] else "no",
        )
    console.print(table)


@app.command()
def show(device_id: str, realm: Realm, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Print a device's status."""
    with ApiClient(url, key) as api:
        try:
            print_json(api.request("GET", f"/appengine/v1/{realm}/devices/{device_id}"))
        except ApiError as exc:
            raise fail(str(exc)) from exc


@app.command()
def inhibit(
    device_id: str,
    realm: Realm,
    lift: Annotated[bool, typer.Option("--lift", help="Allow the device again.")] = False,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Inhibit a device's credentials (it is disconnected and refused), or lift that."""
    with ApiClient(url, key) as api:
        try:
            api.request(
                "PATCH",
                f"/appengine/v1/{realm}/devices/{device_id}",
                json={"data": {"credentials_inhibited": not lift}},
            )
        except ApiError as exc:
            raise fail(str(exc)) from exc
    console.print(f"{device_id}: credentials {'restored' if lift else 'inhibited'}", highlight=False)


@app.command()
def unregister(device_id: str, realm: Realm, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Unregister a device: its secret stops working and it may register again; its data is kept."""
    with ApiClient(url, key) as api:
        try:
            api.request("DELETE", f"/pairing/v1/{realm}/agent/devices/{device_id}")
        except ApiError as exc:
            raise fail(str(exc)) from exc
    console.print(f"{device_id}: unregistered", highlight=False)


@app.command()
def delete(
    device_id: str,
    realm: Realm,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Delete a device with everything stored of it; it is disconnected and refused."""
    if not yes:
        typer.confirm(f"Delete device {device_id} and all its data?", abort=True)
    with ApiClient(url, key) as api:
        try:
            api.request("DELETE", f"/realmmanagement/v1/{realm}/devices/{device_id}")
        except ApiError as exc:
            raise fail(str(exc)) from exc
    console.print(f"{device_id}: deleted with its data", highlight=False)


def send(
    device_id: str,
    interface: str,
    path: str,
    value: Annotated[str, typer.Argument(help="A JSON value (objects for object interfaces).")],
    *,
    realm: Realm,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Send a value to a device on a server-owned interface (properties are set)."""
    try:
        data = json.loads(value)
    except json.JSONDecodeError:
        data = value  # a bare word is a string
    with ApiClient(url, key) as api:
        try:
            base = f"/appengine/v1/{realm}/devices/{device_id}/interfaces/{interface}/{path.strip('/')}"
            try:
                api.request("POST", base, json={"data": data})
            except ApiError as exc:
                if "properties interface" not in str(exc):
                    raise
                api.request("PUT", base, json={"data": data})
        except ApiError as exc:
            raise fail(str(exc)) from exc
    console.print(f"sent {interface}/{path.strip('/')} = {json.dumps(data)}", highlight=False)
