"""``headwater query``: stored data through AppEngine (samples, snapshots, aggregates, exports, SQL)."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.client import ApiClient, ApiError
from pipeline.commands.common import DEFAULT_URL, Key, Realm, Url, console, errors, fail, print_json

app = typer.Typer(
    help="Read stored data: samples, snapshots, aggregates, exports and SQL.", no_args_is_help=True
)

Since = Annotated[str | None, typer.Option("--since", help="ISO 8601 start (inclusive).")]
To = Annotated[str | None, typer.Option("--to", help="ISO 8601 end (exclusive).")]
File = Annotated[Path | None, typer.Option("--file", "-f", help="Write here instead of stdout.")]
EPOCH = "1970-01-01T00:00:00Z"
PAGE = 10_000


class QueryClient(ApiClient):
    """ApiClient that also gives whole answers (for ``links``) and streams raw bodies."""

    def body(self, url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON answer of a GET (``url`` may be absolute, as ``links.next`` is)."""
        try:
            answer = self._http.get(url, params=params)
        except httpx.HTTPError as exc:
            raise ApiError(f"{self._http.base_url} did not answer: {exc}") from exc
        if answer.is_error:
            try:
                detail = answer.json().get("errors", {}).get("detail", answer.text)
            except ValueError:
                detail = answer.text
            raise ApiError(f"GET {url}: {answer.status_code} {detail}", answer.status_code)
        result: dict[str, Any] = answer.json()
        return result

    def download(self, url: str, params: dict[str, Any], target: Any) -> int:
        """Stream a GET's body into ``target`` (a binary file); the byte count."""
        written = 0
        with self._http.stream("GET", url, params=params, timeout=None) as answer:
            if answer.is_error:
                answer.read()
                raise ApiError(f"GET {url}: {answer.status_code} {answer.text}", answer.status_code)
            for chunk in answer.iter_bytes():
                target.write(chunk)
                written += len(chunk)
        return written


def _data_url(realm: str, device: str, interface: str, path: str = "") -> str:
    tail = f"/{path.strip('/')}" if path.strip("/") else ""
    return f"/appengine/v1/{realm}/devices/{device}/interfaces/{interface}{tail}"


def fetch_samples(
    api: QueryClient, url: str, *, since: str | None, to: str | None, limit: int | None, page: int = PAGE
) -> list[dict[str, Any]]:
    """Every sample of the window, following ``links.next``; ``limit`` caps the total.

    Without ``--since``: the latest ``limit`` samples, or the whole series when no limit.
    """
    params: dict[str, Any] = {"allow_bigintegers": "true"}
    if to:
        params["to"] = to
    if since is None and limit is not None:
        params["limit"] = min(limit, page)
        return list(api.body(url, params).get("data", []))
    params["since"] = since or EPOCH
    params["limit"] = page if limit is None else min(limit, page)
    samples: list[dict[str, Any]] = []
    with Progress(
        TextColumn("samples"),
        BarColumn(),
        TextColumn("{task.completed}"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    ) as progress:
        task = progress.add_task("samples", total=limit)
        next_url: str | None = url
        page_params: dict[str, Any] | None = params
        while next_url is not None and (limit is None or len(samples) < limit):
            answer = api.body(next_url, page_params)
            samples += answer.get("data", [])
            progress.update(task, completed=len(samples))
            next_url = answer.get("links", {}).get("next")
            page_params = None  # the next link carries every parameter
    return samples if limit is None else samples[:limit]


def _rows(data: list[Any]) -> list[dict[str, Any]]:
    return [row if isinstance(row, dict) else {"value": row} for row in data]


def write_csv(rows: list[dict[str, Any]], target: Any) -> None:
    """Rows as CSV with the union of their keys (timestamp first)."""
    header = list(dict.fromkeys(key for row in rows for key in row))
    if "timestamp" in header:
        header.remove("timestamp")
        header.insert(0, "timestamp")
    writer = csv.DictWriter(target, header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def write_parquet(rows: list[dict[str, Any]], target: Path) -> None:
    """Rows as a Parquet file; ISO 8601 times become timestamps."""
    # pyarrow loads only when asked for: every other command starts faster.
    import pyarrow as pa  # type: ignore[import-untyped]  # noqa: PLC0415
    import pyarrow.parquet as pq  # type: ignore[import-untyped]  # noqa: PLC0415

    def cell(key: str, value: Any) -> Any:
        if key in ("timestamp", "reception_timestamp") and isinstance(value, str):
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        return value

    table = pa.Table.from_pylist([{k: cell(k, v) for k, v in row.items()} for row in rows])
    pq.write_table(table, target, compression="zstd")


def _emit(rows: list[dict[str, Any]], output: str, file: Path | None, table: Table | None = None) -> None:
    if output == "parquet":
        if file is None:
            raise fail("-o parquet needs --file")
        write_parquet(rows, file)
        errors.print(f"{len(rows)} rows written to {file}", highlight=False)
    elif output == "csv":
        if file is None:
            write_csv(rows, sys.stdout)
        else:
            with file.open("w", newline="") as target:
                write_csv(rows, target)
    elif output == "json" or table is None:
        if file is None:
            print_json(rows)
        else:
            file.write_text(json.dumps(rows))
    else:
        console.print(table)


def _check_output(output: str, choices: tuple[str, ...]) -> None:
    if output not in choices:
        raise fail(f"-o {output}: choose among {', '.join(choices)}")


@app.command("get-samples")
def get_samples(
    device_id: str,
    interface: str,
    path: str,
    *,
    realm: Realm,
    since: Since = None,
    to: To = None,
    limit: Annotated[
        int | None, typer.Option(help="At most this many samples (no --since: the latest).")
    ] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="json, csv or parquet.")] = "json",
    file: File = None,
    page_size: Annotated[int, typer.Option(min=1, max=PAGE, help="Samples per request.")] = PAGE,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Samples of a path in a window, ascending, paging automatically through links.next."""
    _check_output(output, ("json", "csv", "parquet"))
    with QueryClient(url, key, timeout=60.0) as api:
        try:
            samples = fetch_samples(
                api,
                _data_url(realm, device_id, interface, path),
                since=since,
                to=to,
                limit=limit,
                page=page_size,
            )
        except ApiError as exc:
            raise fail(str(exc)) from exc
    _emit(_rows(samples), output, file)


def _flatten(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(tree, dict) and not ("value" in tree and "timestamp" in tree):
        out: list[tuple[str, Any]] = []
        for name, sub in tree.items():
            out += _flatten(sub, f"{prefix}/{name}")
        return out
    return [(prefix or "/", tree)]


@app.command()
def snapshot(
    device_id: str,
    interface: str,
    *,
    realm: Realm,
    output: Annotated[str, typer.Option("--output", "-o", help="table or json.")] = "table",
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """The latest value of every path of a device's interface (properties: their values)."""
    _check_output(output, ("table", "json"))
    with QueryClient(url, key) as api:
        try:
            data = api.request("GET", _data_url(realm, device_id, interface))
        except ApiError as exc:
            raise fail(str(exc)) from exc
    if output == "json":
        print_json(data)
        return
    table = Table("path", "value", "timestamp")
    for path, value in _flatten(data):
        if isinstance(value, dict) and "value" in value:
            table.add_row(path, str(value["value"]), str(value.get("timestamp", "")))
        else:
            table.add_row(path, str(value), "")
    console.print(table)


@app.command()
def aggregate(
    devices: Annotated[str, typer.Argument(help="A device id, or several separated by commas.")],
    interface: str,
    path: str,
    *,
    realm: Realm,
    interval: Annotated[str, typer.Option(help="Bucket width: 30s, 1m, 1h, 1d...")] = "1h",
    functions: Annotated[str, typer.Option(help="Among avg,min,max,sum,count,first,last.")] = (
        "avg,min,max,sum,count,first,last"
    ),
    since: Since = None,
    to: To = None,
    by_device: Annotated[bool, typer.Option(help="Several devices: one series each.")] = False,
    output: Annotated[str, typer.Option("--output", "-o", help="table, json or csv.")] = "table",
    file: File = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Aggregates of a numeric path per interval, for one device or several together."""
    _check_output(output, ("table", "json", "csv"))
    params: dict[str, Any] = {"interval": interval, "functions": functions, "allow_bigintegers": "true"}
    params |= {k: v for k, v in (("since", since), ("to", to)) if v}
    ids = [d for d in devices.split(",") if d]
    if len(ids) == 1:
        target = f"{_data_url(realm, ids[0], interface, path)}/aggregates"
    else:
        target = f"/appengine/v1/{realm}/interfaces/{interface}/{path.strip('/')}/aggregates"
        params |= {"devices": ",".join(ids), "by_device": str(by_device).lower()}
    with QueryClient(url, key) as api:
        try:
            data = api.request("GET", target, params=params)
        except ApiError as exc:
            raise fail(str(exc)) from exc
    table = None
    if data:
        table = Table(*data[0].keys())
        for row in data:
            table.add_row(*(str(v) for v in row.values()))
    _emit(data, output, file, table or Table("no data"))


@app.command()
def export(
    device_id: str,
    interface: str,
    path: str,
    *,
    realm: Realm,
    file: Annotated[Path, typer.Option("--file", "-f", help="Where to write the export.")],
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or arrow.")] = "parquet",
    since: Since = None,
    to: To = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Stream a window of a path into a CSV, Parquet or Arrow IPC file (the server encodes it)."""
    params = {"format": fmt, **{k: v for k, v in (("since", since), ("to", to)) if v}}
    with QueryClient(url, key) as api, file.open("wb") as target:
        try:
            size = api.download(f"{_data_url(realm, device_id, interface, path)}/export", params, target)
        except ApiError as exc:
            raise fail(str(exc)) from exc
    errors.print(f"{size} bytes written to {file}", highlight=False)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One SELECT; {db} names the Headwater database.")],
    realm: Realm,
    output: Annotated[str, typer.Option("--output", "-o", help="table, json or csv.")] = "table",
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Run a read-only SQL query over the realm's rows."""
    _check_output(output, ("table", "json", "csv"))
    with QueryClient(url, key, timeout=60.0) as api:
        try:
            data = api.request("POST", f"/appengine/v1/{realm}/sql", json={"query": query})
        except ApiError as exc:
            raise fail(str(exc)) from exc
    names = [c["name"] for c in data["columns"]]
    if output == "json":
        print_json([dict(zip(names, row, strict=True)) for row in data["rows"]])
    elif output == "csv":
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(data["rows"])
        sys.stdout.write(text.getvalue())
    else:
        table = Table(*names)
        for row in data["rows"]:
            table.add_row(*(str(v) for v in row))
        console.print(table)
    if data["truncated"]:
        errors.print("(more rows matched: the answer stops at 10 000)", highlight=False)
