"""Read-only SQL for one realm, on any ClickHouse (embedded chDB included).

chDB has no users nor row policies, so a query is checked and wrapped here:

1. ClickHouse parses it (``EXPLAIN AST``, which evaluates nothing) and ``check_ast`` accepts
   only reads of the data tables (``individual_datastreams``, ``properties``, ``device_events``
   of this database) and literal rows (``values``): no other table function (those that read
   files or URLs, nor those that generate data such as ``numbers``), no ``SETTINGS`` clause, no
   function that reads outside the tables (``file``, ``dictGet``, ``joinGet``...), no other
   database's table;
2. it runs as a subquery, ``SELECT * FROM (<query>)``, so it is one SELECT (no ``;``, ``FORMAT``
   or ``INTO OUTFILE``), with ``readonly=1`` and ``additional_table_filters`` adding
   ``realm = '<realm>'`` to every read of the data tables, however the query names them;
3. it runs in the store's SQL lane (``pipeline.store.sqllane``), never on the ingest path's
   thread, within the limits of ``SqlSettings`` (memory, rows and bytes read, time, threads):
   ClickHouse stops a query past one and its reason is the answer (400).

On a ClickHouse server deployment, give the API a read-only user per realm with a ROW POLICY
``USING realm = '<realm>'`` on the data tables and grants on nothing else; these checks then are a
second line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from pipeline.errors import BadRequestError, StoreError
from pipeline.settings import SqlSettings
from schemas.errors import HeadwaterError

if TYPE_CHECKING:
    from pipeline.store.clickhouse import ClickHouseStore

TABLES: Final = ("individual_datastreams", "properties", "device_events")
TABLE_FUNCTIONS: Final = frozenset({"values"})
# Table functions that make rows out of nothing: a realm query reads its realm's rows instead.
GENERATORS: Final = frozenset(
    {
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "generaterandom",
        "generateseries",
        "generate_series",
        "primes",
        "random",
    }
)
_DENIED_FUNCTIONS: Final = frozenset(
    {"file", "joinGet", "joinGetOrNull", "getSetting", "getSettingOrDefault", "getServerSetting", "getMacro"}
)
_REALM = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_LINE = re.compile(r"^(?P<indent> *)(?P<node>\w+)(?: (?P<name>[^ ]+))?")


def check_ast(lines: list[str], database: str, databases: set[str], current_tables: set[str]) -> None:
    """Refuse what the realm must not run, from ``EXPLAIN AST`` lines; BadRequestError says why.

    A table named without a database is a CTE unless the session's current database has a table
    of that name (``current_tables``), which is refused.
    """
    allowed = {f"{database}.{table}" for table in TABLES}
    others = {name for name in databases if name != database}
    parents: list[tuple[int, str]] = []
    for line in lines:
        found = _LINE.match(line)
        if found is None:
            continue
        depth, node, name = len(found["indent"]), found["node"], found["name"] or ""
        while parents and parents[-1][0] >= depth:
            parents.pop()
        parent = parents[-1][1] if parents else ""
        parents.append((depth, node))
        if node == "Set":
            raise BadRequestError("SETTINGS are not allowed in a realm query")
        cte = "." not in name and name not in current_tables
        if node == "TableIdentifier" and name not in allowed and not cte:
            raise BadRequestError(
                f"table {name!r} is not readable here; use "
                + ", ".join(f"{database}.{table}" for table in TABLES)
            )
        if node == "Function":
            if parent == "TableExpression" and name.lower() in GENERATORS:
                raise BadRequestError(
                    f"table function {name}() generates data and is not allowed in a realm query; "
                    "read the realm's tables"
                )
            if parent == "TableExpression" and name.lower() not in TABLE_FUNCTIONS:
                raise BadRequestError(f"table function {name}() is not allowed in a realm query")
            if name in _DENIED_FUNCTIONS or name.startswith("dict"):
                raise BadRequestError(f"function {name}() is not allowed in a realm query")
        if node == "Identifier" and "." in name and name.split(".", 1)[0] in others:
            raise BadRequestError(f"{name!r} is outside this realm's tables")


def jsonable(value: Any) -> Any:
    """A ClickHouse value as JSON: ISO times, text for decimals, UUIDs and addresses, no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID | IPv4Address | IPv6Address):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class SqlResult:
    """Columns (name and ClickHouse type), JSON-ready rows, and whether ``max_result_rows`` cut them."""

    columns: list[dict[str, str]]
    rows: list[list[Any]]
    truncated: bool


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def settings_clause(realm: str, database: str, limits: SqlSettings) -> str:
    """The ``SETTINGS`` of a realm query: its realm filter and its limits, read-only last."""
    filters = ", ".join(f"{_quote(f'{database}.{t}')}: {_quote(f'realm = {_quote(realm)}')}" for t in TABLES)
    return (
        f"SETTINGS max_execution_time = {limits.max_execution_s:g}, "
        f"max_memory_usage = {limits.max_memory_bytes:d}, "
        f"max_rows_to_read = {limits.max_rows_to_read:d}, "
        f"max_bytes_to_read = {limits.max_bytes_to_read:d}, "
        f"max_threads = {limits.max_threads:d}, "
        f"additional_table_filters = {{{filters}}}, readonly = 1"
    )


async def run_realm_sql(
    store: ClickHouseStore, realm: str, query: str, *, limits: SqlSettings | None = None
) -> SqlResult:
    """Run a realm's read-only query in the store's SQL lane.

    BadRequestError (with ClickHouse's message) for bad SQL or a query past the limits,
    BusyError when every lane stays busy.

    ``{db}`` in the query stands for the store's database.
    """
    limits = limits or SqlSettings()
    max_rows = limits.max_result_rows
    if not _REALM.match(realm):
        raise BadRequestError(f"realm {realm!r} cannot be queried with SQL")
    text = query.strip().rstrip(";").strip()
    if not text:
        raise BadRequestError("query is empty")
    db = store.database
    wrapped = f"SELECT * FROM (\n{text.replace('{db}', db)}\n)"
    settings = settings_clause(realm, db, limits)
    lane, wait = store.sql_lane, limits.lane_wait_s
    try:
        ast = await lane.query(f"EXPLAIN AST {wrapped}", wait_s=wait)
        databases = {row[0] for row in await lane.query("SELECT name FROM system.databases", wait_s=wait)}
        current = await lane.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase()", wait_s=wait
        )
        check_ast([row[0] for row in ast], db, databases, {row[0] for row in current})
        # DESCRIBE evaluates scalar subqueries: it runs within the limits too.
        described = await lane.query(f"DESCRIBE TABLE ({wrapped}) {settings}", wait_s=wait)
        rows = await lane.query(f"{wrapped} LIMIT {max_rows + 1:d} {settings}", wait_s=wait)
    except StoreError as exc:
        raise BadRequestError(_clickhouse_message(str(exc))) from exc
    except HeadwaterError:
        raise
    except Exception as exc:  # the client's own errors (e.g. a stream it cannot decode) are bad SQL too
        raise BadRequestError(f"ClickHouse could not run the query: {exc}") from exc
    columns = [{"name": row[0], "type": row[1]} for row in described]
    out = [[jsonable(v) for v in row] for row in rows[:max_rows]]
    return SqlResult(columns, out, len(rows) > max_rows)


def _clickhouse_message(text: str) -> str:
    # "ClickHouse at <where>: Code: 62. DB::Exception: ..." -> from "Code:" on, without the URL.
    at = text.find("Code:")
    return text[at:] if at >= 0 else text
