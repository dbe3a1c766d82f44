"""``headwater auth``, ``whoami`` and ``config``: log in, see who you are, switch contexts."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.client import ApiClient, ApiError
from pipeline.commands import contexts
from pipeline.commands.common import DEFAULT_URL, Key, Output, Url, console, fail, print_json
from pipeline.commands.contexts import Context

app = typer.Typer(help="Log in and manage API keys.", no_args_is_help=True)
config_app = typer.Typer(help="The CLI's contexts (~/.config/headwater/config.yaml).", no_args_is_help=True)


@app.command()
def login(
    url: Annotated[str, typer.Option("--url", envvar="HEADWATER_URL", help="Headwater API address.")],
    realm: Annotated[str | None, typer.Option("--realm", "-r", help="Realm the key is for.")] = None,
    username: Annotated[str | None, typer.Option(help="Prompted for when omitted.")] = None,
    password: Annotated[str | None, typer.Option(help="Prompted for (hidden) when omitted.")] = None,
    context: Annotated[str | None, typer.Option(help="Context name (default realm@host:port).")] = None,
) -> None:
    """Log in: get an API key (30 days by default) and keep it in the config file as the current context."""
    username = username or typer.prompt("Username")
    password = password or typer.prompt("Password", hide_input=True)
    with ApiClient(url, None) as api:
        try:
            data = api.request(
                "POST",
                "/auth/v1/login",
                json={"data": {"username": username, "password": password, "realm": realm}},
            )
        except ApiError as exc:
            raise fail(str(exc)) from exc
    name = context or contexts.context_name(url, realm)
    config = contexts.load()
    config.contexts[name] = Context(url, data["key"], realm, username, data["id"], data["expires_at"])
    config.current_context = name
    path = contexts.save(config)
    expiry = data["expires_at"] or "never"
    console.print(
        f"logged in as {username} (context {name}, key {data['id']}, expires {expiry}); saved in {path}"
    )


@app.command("keys")
def keys(url: Url = DEFAULT_URL, key: Key = None, output: Output = "table") -> None:
    """List your API keys, masked, with their status and last use."""
    with ApiClient(url, key) as api:
        try:
            listed: list[dict[str, Any]] = api.request("GET", "/auth/v1/apikeys")
        except ApiError as exc:
            raise fail(str(exc)) from exc
    if output == "json":
        print_json(listed)
        return
    table = Table("id", "name", "realm", "status", "expires", "last used")
    for item in listed:
        table.add_row(
            item["id"],
            item["name"],
            item["realm"] or "",
            item["status"],
            item["expires_at"] or "never",
            item["last_used_at"] or "",
        )
    console.print(table)


@app.command("revoke")
def revoke(key_id: str, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Revoke an API key by its id."""
    with ApiClient(url, key) as api:
        try:
            api.request("DELETE", f"/auth/v1/apikeys/{key_id}")
        except ApiError as exc:
            raise fail(str(exc)) from exc
    console.print(f"revoked {key_id}", highlight=False)


def whoami(url: Url = DEFAULT_URL, key: Key = None, output: Output = "table") -> None:
    """Who the current key speaks for: user, realm, roles, key id and expiry."""
    with ApiClient(url, key) as api:
        try:
            me: dict[str, Any] = api.request("GET", "/auth/v1/whoami")
        except ApiError as exc:
            raise fail(str(exc)) from exc
    if output == "json":
        print_json(me)
        return
    roles = ", ".join(f"{realm}: {role}" for realm, role in me["roles"].items()) or "-"
    for label, value in (
        ("user", me["username"] or "(bootstrap key)"),
        ("global role", me["global_role"]),
        ("realm", me["realm"] or "(all of the user's)"),
        ("roles", roles),
        ("key id", me["key_id"]),
        ("expires", me["expires_at"] or "never"),
    ):
        console.print(f"{label:12} {value}", highlight=False)


@config_app.command("use-context")
def use_context(name: str) -> None:
    """Make NAME the current context."""
    config = contexts.load()
    if name not in config.contexts:
        raise fail(f"no context {name!r}; known: {', '.join(sorted(config.contexts)) or 'none'}")
    config.current_context = name
    contexts.save(config)
    console.print(f"current context: {name}", highlight=False)


@config_app.command("get-contexts")
def get_contexts() -> None:
    """List the contexts; the current one is starred."""
    config = contexts.load()
    table = Table("", "name", "url", "realm", "user", "expires")
    for name, ctx in sorted(config.contexts.items()):
        star = "*" if name == config.current_context else ""
        table.add_row(star, name, ctx.url, ctx.realm or "", ctx.username or "", ctx.expires_at or "never")
    console.print(table)


@config_app.command("current-context")
def current_context() -> None:
    """Print the current context's name."""
    name = contexts.load().current_context
    if not name:
        raise fail("no current context: run headwater auth login")
    console.print(name, highlight=False)
