"""``headwater trigger`` and ``headwater policy``: install, list, show, delete (and sync) through the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.client import ApiClient, ApiError
from pipeline.commands.common import DEFAULT_URL, Key, Output, Realm, Url, console, fail, print_json
from schemas.policies import parse_policy
from schemas.trigger_errors import TriggerError
from schemas.triggers import parse_trigger

app = typer.Typer(
    help="Manage a realm's triggers (astartectl realm-management triggers).", no_args_is_help=True
)
policy_app = typer.Typer(
    help="Manage a realm's delivery policies (astartectl realm-management trigger-delivery-policies).",
    no_args_is_help=True,
)


def _load(path: Path, kind: str) -> dict[str, Any]:
    """Read and validate one definition file offline; TriggerError names the file and the rule."""
    try:
        data = json.loads(path.read_bytes())
        parsed = parse_trigger(data) if kind == "triggers" else parse_policy(data)
    except TriggerError as exc:
        raise TriggerError(f"{path}: {exc}", field=exc.field) from exc
    except (OSError, ValueError) as exc:
        raise TriggerError(f"{path}: {exc}") from exc
    return parsed.to_json()


def _install(kind: str, files: list[Path], realm: str, url: str, key: str | None) -> None:
    with ApiClient(url, key) as api:
        for path in files:
            try:
                definition = _load(path, kind)
                api.request("POST", f"/realmmanagement/v1/{realm}/{kind}", json={"data": definition})
            except (TriggerError, ApiError) as exc:
                raise fail(str(exc)) from exc
            console.print(f"installed {definition['name']}", highlight=False)


def _list(kind: str, realm: str, url: str, key: str | None, output: str) -> None:
    with ApiClient(url, key) as api:
        try:
            names = api.request("GET", f"/realmmanagement/v1/{realm}/{kind}")
        except ApiError as exc:
            raise fail(str(exc)) from exc
    if output == "json":
        print_json(names)
        return
    table = Table("name")
    for name in names:
        table.add_row(name)
    console.print(table)


def _show(kind: str, name: str, realm: str, url: str, key: str | None) -> None:
    with ApiClient(url, key) as api:
        try:
            print_json(api.request("GET", f"/realmmanagement/v1/{realm}/{kind}/{name}"))
        except ApiError as exc:
            raise fail(str(exc)) from exc


def _delete(kind: str, name: str, realm: str, url: str, key: str | None) -> None:
    with ApiClient(url, key) as api:
        try:
            api.request("DELETE", f"/realmmanagement/v1/{realm}/{kind}/{name}")
        except ApiError as exc:
            raise fail(str(exc)) from exc
    console.print(f"deleted {name}", highlight=False)


@app.command()
def install(files: list[Path], realm: Realm, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Install triggers from JSON files (Astarte's form, or Headwater's and/or condition form)."""
    _install("triggers", files, realm, url, key)


@app.command("list")
def list_(realm: Realm, url: Url = DEFAULT_URL, key: Key = None, output: Output = "table") -> None:
    """List installed trigger names."""
    _list("triggers", realm, url, key, output)


@app.command()
def show(name: str, realm: Realm, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Print an installed trigger."""
    _show("triggers", name, realm, url, key)


@app.command()
def delete(name: str, realm: Realm, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Delete a trigger (it stops firing within a second)."""
    _delete("triggers", name, realm, url, key)


@app.command()
def sync(directory: Path, realm: Realm, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Install the triggers of a folder that the realm lacks; a changed one is replaced (delete + install)."""
    try:
        wanted = [_load(path, "triggers") for path in sorted(directory.glob("*.json"))]
    except TriggerError as exc:
        raise fail(str(exc)) from exc
    base = f"/realmmanagement/v1/{realm}/triggers"
    with ApiClient(url, key) as api:
        try:
            installed = set(api.request("GET", base))
            for definition in wanted:
                name = definition["name"]
                if name in installed:
                    if api.request("GET", f"{base}/{name}") == definition:
                        console.print(f"unchanged {name}", highlight=False)
                        continue
                    api.request("DELETE", f"{base}/{name}")
                    api.request("POST", base, json={"data": definition})
                    console.print(f"replaced {name}", highlight=False)
                else:
                    api.request("POST", base, json={"data": definition})
                    console.print(f"installed {name}", highlight=False)
        except ApiError as exc:
            raise fail(str(exc)) from exc


@app.command("dead-letters")
def dead_letters(
    realm: Realm,
    replay: Annotated[bool, typer.Option("--replay", help="Queue them all for delivery again.")] = False,
    url: Url = DEFAULT_URL,
    key: Key = None,
    output: Output = "table",
) -> None:
    """List trigger events that could not be delivered, or replay them with --replay."""
    path = f"/realmmanagement/v1/{realm}/triggers/dead-letters"
    with ApiClient(url, key) as api:
        try:
            if replay:
                answer = api.request("POST", f"{path}/replay")
                console.print(f"replayed {answer['replayed']} events", highlight=False)
                return
            letters = api.request("GET", path)
        except ApiError as exc:
            raise fail(str(exc)) from exc
    if output == "json":
        print_json(letters)
        return
    table = Table("event", "trigger", "device", "reason")
    for letter in letters:
        table.add_row(
            letter["event_id"], letter["trigger_name"], letter["body"]["device_id"], letter["reason"]
        )
    console.print(table)


@policy_app.command("install")
def policy_install(files: list[Path], realm: Realm, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Install delivery policies from JSON files."""
    _install("policies", files, realm, url, key)


@policy_app.command("list")
def policy_list(realm: Realm, url: Url = DEFAULT_URL, key: Key = None, output: Output = "table") -> None:
    """List installed delivery policy names."""
    _list("policies", realm, url, key, output)


@policy_app.command("show")
def policy_show(name: str, realm: Realm, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Print an installed delivery policy."""
    _show("policies", name, realm, url, key)


@policy_app.command("delete")
def policy_delete(name: str, realm: Realm, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Delete a delivery policy (refused while a trigger uses it)."""
    _delete("policies", name, realm, url, key)


@policy_app.command("default")
def policy_default(
    realm: Realm,
    name: Annotated[str | None, typer.Argument(help="The installed policy to make the default.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Back to Astarte's default (one attempt).")] = False,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Show the realm's default delivery policy, or set it (for triggers that name none)."""
    path = f"/realmmanagement/v1/{realm}/config/default-policy"
    with ApiClient(url, key) as api:
        try:
            if name is None and not clear:
                current = api.request("GET", path)["name"]
            else:
                current = api.request("PUT", path, json={"data": {"name": None if clear else name}})["name"]
        except ApiError as exc:
            raise fail(str(exc)) from exc
    console.print(current or "(none: one attempt, failures discarded)", highlight=False)
