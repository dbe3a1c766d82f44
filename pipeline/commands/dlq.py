"""``headwater dlq``: list a realm's dead letters and replay them through validation, via the API."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.client import ApiClient, ApiError
from pipeline.commands.common import DEFAULT_URL, Key, Output, Realm, Url, console, fail, print_json

app = typer.Typer(
    help="Dead letters: refused device messages and unstorable readings, with the reason.",
    no_args_is_help=True,
)

Device = Annotated[str | None, typer.Option("--device", "-d", help="Only this device's letters.")]
Since = Annotated[str | None, typer.Option("--since", help="ISO 8601: received at or after.")]
Limit = Annotated[int, typer.Option("--limit", help="At most this many (newest first).")]


def _path(realm: str) -> str:
    return f"/realmmanagement/v1/{realm}/dead-letters"


def _filters(device: str | None, since: str | None, limit: int) -> dict[str, Any]:
    chosen: dict[str, Any] = {"limit": limit}
    if device is not None:
        chosen["device_id"] = device
    if since is not None:
        chosen["since"] = since
    return chosen


@app.command("list")
def list_letters(
    *,
    realm: Realm,
    device: Device = None,
    since: Since = None,
    limit: Limit = 100,
    url: Url = DEFAULT_URL,
    key: Key = None,
    output: Output = "table",
) -> None:
    """List the realm's latest dead letters, newest first."""
    params = _filters(device, since, limit)
    with ApiClient(url, key) as api:
        try:
            letters = api.request("GET", _path(realm), params=params)
        except ApiError as exc:
            raise fail(str(exc)) from exc
    if output == "json":
        print_json(letters)
        return
    table = Table("id", "received", "device", "interface", "path", "reason", "detail", "replayed")
    for letter in letters:
        table.add_row(
            letter["id"],
            letter["received_at"],
            letter["device_id"] or "",
            letter["interface"] or "",
            letter["path"] or "",
            letter["reason"],
            letter["detail"],
            "yes" if letter["replayed_at"] else "",
        )
    console.print(table)


@app.command("replay")
def replay(
    realm: Realm,
    ids: Annotated[
        list[str] | None, typer.Argument(help="Letter ids (from `dlq list`); none: use filters.")
    ] = None,
    *,
    device: Device = None,
    since: Since = None,
    limit: Limit = 100,
    url: Url = DEFAULT_URL,
    key: Key = None,
    output: Output = "table",
) -> None:
    """Validate dead letters again as device messages; those now valid are ingested.

    Without ids, replays the latest letters matching the filters that were not replayed yet.
    """
    selection = _filters(device, since, limit)
    if ids:
        selection["ids"] = ids
    with ApiClient(url, key) as api:
        try:
            result = api.request("POST", f"{_path(realm)}/replay", json={"data": selection})
        except ApiError as exc:
            raise fail(str(exc)) from exc
    if output == "json":
        print_json(result)
        return
    console.print(f"replayed {result['replayed']}, refused again {len(result['refused'])}", highlight=False)
    for refused in result["refused"]:
        console.print(f"  {refused['id']}: {refused['reason']} ({refused['detail']})", highlight=False)
