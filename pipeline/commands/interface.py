"""``headwater interface``: validate, install, list, show, update, delete and sync interfaces."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.client import ApiClient, ApiError
from pipeline.commands.common import DEFAULT_URL, Key, Output, Realm, Url, console, errors, fail, print_json
from schemas.errors import InterfaceError
from schemas.interface import Interface, parse_interface

app = typer.Typer(
    help="Manage a realm's interfaces (astartectl realm-management interfaces).", no_args_is_help=True
)


def load(path: Path) -> Interface:
    """Parse one interface file; InterfaceError names the file, the field and the rule."""
    try:
        return parse_interface(path.read_bytes())
    except InterfaceError as exc:
        raise InterfaceError(f"{path}: {exc}", field=exc.field) from exc
    except OSError as exc:
        raise InterfaceError(f"{path}: {exc.strerror}") from exc


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="Interface JSON files.")]) -> None:
    """Check interface files offline; exit 1 with the reasons when any is invalid."""
    failed = 0
    for path in files:
        try:
            interface = load(path)
        except InterfaceError as exc:
            failed += 1
            errors.print(f"[red]invalid[/red] {exc}", highlight=False)
            continue
        console.print(
            f"[green]valid[/green]   {path}: {interface.name} v{interface.major}.{interface.minor}",
            highlight=False,
        )
    if failed:
        raise typer.Exit(1)


@app.command()
def install(files: list[Path], realm: Realm, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Install interfaces (or new majors of them)."""
    with ApiClient(url, key) as api:
        for path in files:
            try:
                interface = load(path)
                api.request(
                    "POST", f"/realmmanagement/v1/{realm}/interfaces", json={"data": interface.to_json()}
                )
            except (InterfaceError, ApiError) as exc:
                raise fail(str(exc)) from exc
            console.print(f"installed {interface.name} v{interface.major}.{interface.minor}", highlight=False)


@app.command("list")
def list_(realm: Realm, url: Url = DEFAULT_URL, key: Key = None, output: Output = "table") -> None:
    """List installed interfaces with their versions."""
    with ApiClient(url, key) as api:
        try:
            installed = api.request(
                "GET", f"/realmmanagement/v1/{realm}/interfaces", params={"detailed": "true"}
            )
        except ApiError as exc:
            raise fail(str(exc)) from exc
    if output == "json":
        print_json(installed)
        return
    table = Table("name", "major", "minor", "type", "ownership", "aggregation")
    for item in installed:
        table.add_row(
            item["interface_name"],
            str(item["version_major"]),
            str(item["version_minor"]),
            item["type"],
            item["ownership"],
            item["aggregation"],
        )
    console.print(table)


@app.command()
def show(
    name: str,
    realm: Realm,
    major: Annotated[int | None, typer.Argument()] = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Print an installed interface (its highest major unless MAJOR is given)."""
    with ApiClient(url, key) as api:
        try:
            if major is None:
                major = max(api.request("GET", f"/realmmanagement/v1/{realm}/interfaces/{name}"))
            definition = api.request("GET", f"/realmmanagement/v1/{realm}/interfaces/{name}/{major}")
        except ApiError as exc:
            raise fail(str(exc)) from exc
    print_json(definition)


@app.command()
def update(files: list[Path], realm: Realm, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Apply minor upgrades of installed interfaces."""
    with ApiClient(url, key) as api:
        for path in files:
            try:
                interface = load(path)
                _put(api, realm, interface)
            except (InterfaceError, ApiError) as exc:
                raise fail(str(exc)) from exc
            console.print(f"updated {interface.name} v{interface.major}.{interface.minor}", highlight=False)


@app.command()
def delete(name: str, major: int, realm: Realm, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Delete a draft interface (major 0)."""
    with ApiClient(url, key) as api:
        try:
            api.request("DELETE", f"/realmmanagement/v1/{realm}/interfaces/{name}/{major}")
        except ApiError as exc:
            raise fail(str(exc)) from exc
    console.print(f"deleted {name} v{major}", highlight=False)


@app.command()
def sync(directory: Path, realm: Realm, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Make the realm match a folder: install what is missing, upgrade what has a newer minor."""
    try:
        wanted = [load(path) for path in sorted(directory.glob("*.json"))]
    except InterfaceError as exc:
        raise fail(str(exc)) from exc
    with ApiClient(url, key) as api:
        try:
            installed = {
                (item["interface_name"], item["version_major"]): item["version_minor"]
                for item in api.request(
                    "GET", f"/realmmanagement/v1/{realm}/interfaces", params={"detailed": "true"}
                )
            }
            for interface in wanted:
                current = installed.get((interface.name, interface.major))
                if current is None:
                    api.request(
                        "POST", f"/realmmanagement/v1/{realm}/interfaces", json={"data": interface.to_json()}
                    )
                    console.print(
                        f"installed {interface.name} v{interface.major}.{interface.minor}", highlight=False
                    )
                elif interface.minor > current:
                    _put(api, realm, interface)
                    console.print(
                        f"updated {interface.name} v{interface.major}.{interface.minor}", highlight=False
                    )
                else:
                    console.print(f"unchanged {interface.name} v{interface.major}.{current}", highlight=False)
        except ApiError as exc:
            raise fail(str(exc)) from exc


def _put(api: ApiClient, realm: str, interface: Interface) -> Any:
    return api.request(
        "PUT",
        f"/realmmanagement/v1/{realm}/interfaces/{interface.name}/{interface.major}",
        json={"data": interface.to_json()},
    )
