"""Aggregates, exports and realm SQL over the real store (chDB) and registry (SQLite)."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import ipc

from pipeline.settings import SqlSettings
from pipeline.store.export import Selection, chunks
from pipeline.store.readings import Window
from pipeline.store.realmsql import settings_clause
from schemas.interface import parse_interface
from tests.helpers import random_device_id
from tests.integration import test_store_appengine as base
from tests.integration.test_store_appengine import T0, TYPES, Api

api = base.api  # the app on chDB and SQLite, with one device
SECOND = 1_000_000
AE = "/appengine/v1/acme"


async def tens(api: Api, path: str = "/v/double", value_type: str = "double") -> None:
    """Ten values 0..9, one per second from T0."""
    cast = float if value_type == "double" else int
    await api.store_readings(
        "org.acme.Types", [(path, value_type, cast(i), T0 + i * SECOND) for i in range(10)]
    )


def _platform(api: Api) -> Any:
    return api.client._transport.app.state.platform  # type: ignore[attr-defined]


def _registry(api: Api) -> Any:
    return _platform(api).registry


async def aggregates(api: Api, path: str, **params: Any) -> Any:
    url = f"{AE}/devices/{api.device}/interfaces/org.acme.Types{path}/aggregates"
    return await api.client.get(url, params=params)


async def test_aggregates_per_interval(api: Api) -> None:
    await tens(api)
    answer = await aggregates(api, "/v/double", interval="5s", since="2023-11-14T22:13:20Z")
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == [
        {
            "timestamp": "2023-11-14T22:13:20.000Z",
            "avg": 2.0,
            "min": 0.0,
            "max": 4.0,
            "sum": 10.0,
            "count": 5,
            "first": 0.0,
            "last": 4.0,
        },
        {
            "timestamp": "2023-11-14T22:13:25.000Z",
            "avg": 7.0,
            "min": 5.0,
            "max": 9.0,
            "sum": 35.0,
            "count": 5,
            "first": 5.0,
            "last": 9.0,
        },
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"interval": "1m", "functions": "count"}, [{"count": 10}]),
        ({"interval": "2s", "functions": "max", "limit": "2"}, [{"max": "7"}, {"max": "9"}]),
        ({"interval": "2s", "functions": "max", "to": "2023-11-14T22:13:22Z"}, [{"max": "1"}]),
        ({"interval": "3s", "functions": "last,first"}, []),
        ({"interval": "1m", "functions": "sum", "allow_bigintegers": "true"}, [{"sum": 45}]),
        ({"interval": "1m", "functions": "sum"}, [{"sum": "45"}]),
        ({"interval": "1m", "functions": "min", "keep_milliseconds": "true"}, [{"min": "0"}]),
    ],
)
async def test_aggregate_parameters(api: Api, params: dict[str, str], expected: list[dict[str, Any]]) -> None:
    await tens(api, "/v/longinteger", "longinteger")
    answer = await aggregates(api, "/v/longinteger", **params)
    assert answer.status_code == 200, answer.text
    data = [{k: v for k, v in row.items() if k != "timestamp"} for row in answer.json()["data"]]
    if params["interval"] == "3s":
        assert [row["first"] for row in data] == ["0", "1", "4", "7"]  # buckets aligned on the epoch
        return
    if "keep_milliseconds" in params:
        assert answer.json()["data"][0]["timestamp"] == (T0 // 60_000_000 * 60_000_000) // 1000
    assert data == expected


@pytest.mark.parametrize(
    ("path", "params", "status", "reason"),
    [
        ("/v/string", {"interval": "1m"}, 400, "numeric"),
        ("/v/doublearray", {"interval": "1m"}, 400, "numeric"),
        ("/v/double", {}, 400, "interval is required"),
        ("/v/double", {"interval": "5"}, 400, "unit"),
        ("/v/double", {"interval": "0s"}, 400, "positive"),
        ("/v/double", {"interval": "1m", "functions": "median"}, 400, "choose among"),
        ("/v/double", {"interval": "1m", "since": "yesterday"}, 400, "ISO 8601"),
        ("/v/double", {"interval": "1m", "limit": "0"}, 400, "limit"),
        ("/v/nope", {"interval": "1m"}, 404, "matches no mapping"),
    ],
)
async def test_aggregate_errors(
    api: Api, path: str, params: dict[str, str], status: int, reason: str
) -> None:
    answer = await aggregates(api, path, **params)
    assert answer.status_code == status, answer.text
    assert reason in str(answer.json()["errors"]["detail"])


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/devices/{device}/interfaces/org.acme.Nope/v/double/aggregates?interval=1m", 404),
        ("/devices/unknown0device0id0000/interfaces/org.acme.Types/v/double/aggregates?interval=1m", 404),
        ("/devices/{device}/interfaces/org.acme.Props/room/temp/aggregates?interval=1m", 400),
        ("/interfaces/org.acme.Types/v/double/aggregates?interval=1m", 400),
        ("/interfaces/org.acme.Types/v/double/aggregates?interval=1m&devices=unknown0device0id0000", 404),
        ("/interfaces/org.acme.Types/v/double/aggregates?interval=1m&devices={device}&major=7", 400),
        ("/interfaces/org.acme.Types/v/double/export?devices={device}&format=xlsx", 400),
        ("/devices/{device}/interfaces/org.acme.Types/v/double/export?format=json", 400),
        ("/devices/{device}/interfaces/org.acme.Types/v/nope/export", 404),
        ("/devices/{device}/interfaces/org.acme.Types/v/double/export?to=2020-01-01&since=2021-01-01", 400),
    ],
)
async def test_route_errors(api: Api, url: str, status: int) -> None:
    answer = await api.client.get(AE + url.format(device=api.device))
    assert answer.status_code == status, answer.text
    assert answer.json()["errors"]["detail"]


async def test_object_members_aggregate(api: Api) -> None:
    await api.store_readings(
        "org.acme.Obj",
        [
            ("/s1", "object", {"t": float(i), "n": i, "big": i, "label": "x"}, T0 + i * SECOND)
            for i in range(4)
        ],
    )
    url = f"{AE}/devices/{api.device}/interfaces/org.acme.Obj/s1/t/aggregates"
    answer = await api.client.get(url, params={"interval": "1h", "functions": "avg,count"})
    assert answer.status_code == 200, answer.text
    assert [(r["avg"], r["count"]) for r in answer.json()["data"]] == [(1.5, 4)]
    label = await api.client.get(url.replace("/t/", "/label/"), params={"interval": "1h"})
    assert label.status_code == 400


async def test_group_aggregates_together_and_by_device(api: Api) -> None:
    await tens(api)
    first = api.device
    second = random_device_id()
    await _registry(api).register_device("acme", second)
    api.device = second
    await tens(api)
    url = f"{AE}/interfaces/org.acme.Types/v/double/aggregates"
    devices = f"{first},{second}"
    together = await api.client.get(
        url, params={"devices": devices, "interval": "1h", "functions": "count,sum"}
    )
    assert together.status_code == 200, together.text
    assert [(r["count"], r["sum"]) for r in together.json()["data"]] == [(20, 90.0)]
    assert together.json()["metadata"]["devices"] == [first, second]
    split = await api.client.get(
        url, params={"devices": devices, "interval": "1h", "functions": "count", "by_device": "true"}
    )
    assert sorted((r["device_id"], r["count"]) for r in split.json()["data"]) == sorted(
        [(first, 10), (second, 10)]
    )


async def test_group_reads_take_an_appengine_group(api: Api) -> None:
    from pipeline.registry.groups import Groups

    await tens(api)
    first = api.device
    second = random_device_id()
    await _registry(api).register_device("acme", second)
    api.device = second
    await tens(api)
    await Groups(_registry(api)).create("acme", "boilers", [first, second])
    url = f"{AE}/interfaces/org.acme.Types/v/double/aggregates"

    by_group = await api.client.get(url, params={"group": "boilers", "interval": "1h", "functions": "count"})
    unknown = await api.client.get(url, params={"group": "nobody", "interval": "1h"})
    both = await api.client.get(url, params={"group": "boilers", "devices": first, "interval": "1h"})

    assert by_group.status_code == 200, by_group.text
    assert [r["count"] for r in by_group.json()["data"]] == [20]
    assert by_group.json()["metadata"]["devices"] == sorted([first, second])
    assert unknown.status_code == 404
    assert both.status_code == 400 and "not both" in both.json()["errors"]["detail"]


# exports


def _table(fmt: str, content: bytes) -> pa.Table:
    if fmt == "parquet":
        return pq.read_table(io.BytesIO(content))
    return ipc.open_stream(content).read_all()


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
@pytest.mark.parametrize("value_type", list(TYPES))
async def test_export_columnar_keeps_types(api: Api, fmt: str, value_type: str) -> None:
    stored, _ = TYPES[value_type]
    await api.store_readings("org.acme.Types", [(f"/v/{value_type}", value_type, stored, T0)])
    url = f"{AE}/devices/{api.device}/interfaces/org.acme.Types/v/{value_type}/export"
    answer = await api.client.get(url, params={"format": fmt})
    assert answer.status_code == 200, answer.text
    table = _table(fmt, answer.content)
    assert table.column_names == ["device_id", "timestamp", "reception_timestamp", "value"]
    row = table.to_pylist()[0]
    assert row["device_id"] == api.device
    assert int(row["timestamp"].timestamp() * 1_000_000) == T0
    value = row["value"]
    if value_type.startswith("datetime"):
        to_micros = lambda d: round(d.timestamp() * 1_000_000)  # noqa: E731
        value = [to_micros(v) for v in value] if isinstance(value, list) else to_micros(value)
    if value_type == "stringarray":
        stored = list(stored)
    assert value == stored


async def test_export_csv_streams_the_window(api: Api) -> None:
    await tens(api)
    url = f"{AE}/devices/{api.device}/interfaces/org.acme.Types/v/double/export"
    answer = await api.client.get(url, params={"since": "2023-11-14T22:13:22Z", "to": "2023-11-14T22:13:25Z"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["device_id", "timestamp", "reception_timestamp", "value"]
    assert [(r[1], r[3]) for r in rows[1:]] == [
        ("2023-11-14T22:13:22.000000Z", "2.0"),
        ("2023-11-14T22:13:23.000000Z", "3.0"),
        ("2023-11-14T22:13:24.000000Z", "4.0"),
    ]
    limited = await api.client.get(url, params={"limit": "4", "format": "arrow"})
    assert _table("arrow", limited.content).column("value").to_pylist() == [0.0, 1.0, 2.0, 3.0]


async def test_group_export_merges_devices_in_time_order(api: Api) -> None:
    await tens(api)
    first, second = api.device, random_device_id()
    await _registry(api).register_device("acme", second)
    api.device = second
    await tens(api)
    url = f"{AE}/interfaces/org.acme.Types/v/double/export"
    answer = await api.client.get(url, params={"devices": f"{first},{second}", "format": "parquet"})
    table = pq.read_table(io.BytesIO(answer.content))
    assert table.num_rows == 20
    assert sorted(set(table.column("device_id").to_pylist())) == sorted([first, second])
    times = table.column("timestamp").to_pylist()
    assert times == sorted(times)


@pytest.mark.parametrize("chunk", [1, 3, 10, 50])
async def test_export_chunks_give_every_row_once(api: Api, chunk: int) -> None:
    # Equal timestamps across readings: the keyset must not skip nor repeat them.
    await api.store_readings(
        "org.acme.Types", [("/v/double", "double", float(i), T0 + i // 3) for i in range(10)]
    )
    selection = Selection("acme", [api.device], "org.acme.Types", 1, "/v/double", "double")
    got = [row[3] async for rows in chunks(api.store, selection, Window(), chunk=chunk) for row in rows]
    assert sorted(got) == [float(i) for i in range(10)]
    capped = [r async for rows in chunks(api.store, selection, Window(), total=4, chunk=chunk) for r in rows]
    assert len(capped) == 4


# SQL


async def _other_realm_row(api: Api) -> None:
    await api.store.query(
        "INSERT INTO {db}.individual_datastreams (realm, device_id, interface, major, path, value_type, "
        "timestamp, reading_id, double_value) VALUES ('other', 'x', 'org.acme.Types', 1, '/v/double', "
        "'double', now64(), 1, 99.0)",
        {},
    )


async def sql(api: Api, query: str) -> Any:
    return await api.client.post(f"{AE}/sql", json={"query": query})


async def test_sql_reads_only_the_realms_rows(api: Api) -> None:
    await tens(api)
    await _other_realm_row(api)
    db = api.store.database
    for query in (
        "SELECT count() AS n, max(double_value) FROM {db}.individual_datastreams",
        f"SELECT count() AS n, max(double_value) FROM {db}.individual_datastreams FINAL",
        f"WITH t AS (SELECT * FROM {db}.individual_datastreams) "
        "SELECT count() AS n, max(double_value) FROM t",
        f"SELECT count() AS n, max(v) FROM (SELECT double_value AS v FROM {db}.individual_datastreams "
        f"UNION ALL SELECT double_value FROM {db}.individual_datastreams WHERE realm = 'other')",
    ):
        answer = await sql(api, query)
        assert answer.status_code == 200, answer.text
        rows = answer.json()["data"]["rows"]
        assert rows[0][1] == 9.0, query
    answer = await sql(api, "SELECT count() AS n FROM {db}.individual_datastreams;")
    assert answer.json()["data"]["columns"] == [{"name": "n", "type": "UInt64"}]
    assert answer.json()["data"]["rows"] == [[10]]
    got = await api.client.get(f"{AE}/sql", params={"query": "SELECT 1 + 1 AS two, now() AS t, nan AS x"})
    assert got.status_code == 200, got.text
    assert got.json()["data"]["rows"][0][0] == 2
    assert got.json()["data"]["rows"][0][2] is None


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("DROP TABLE {db}.individual_datastreams", "Syntax error"),
        ("INSERT INTO {db}.properties (realm) VALUES ('acme')", "Syntax error"),
        ("SELECT 1; SELECT 2", "Syntax error"),
        ("SELECT * FROM {db}.individual_datastreams FORMAT JSON", "Syntax error"),
        ("SELECT 1 INTO OUTFILE '/tmp/x'", "Syntax error"),
        ("SELEC 1", "Syntax error"),
        ("SELECT nosuchcolumn FROM {db}.individual_datastreams", "nosuchcolumn"),
        ("SELECT * FROM system.tables", "not readable"),
        ("SELECT * FROM {db}.schema_migrations", "not readable"),
        ("SELECT * FROM file('/etc/passwd')", "table function file"),
        ("SELECT * FROM url('http://127.0.0.1:1/', CSV)", "table function url"),
        ("SELECT file('/etc/passwd')", "function file"),
        ("SELECT dictGet('d', 'x', 1)", "function dictGet"),
        ("SELECT 1 SETTINGS readonly = 0", "SETTINGS"),
        ("SELECT * FROM (SELECT 1 SETTINGS additional_table_filters = {})", "SETTINGS"),
        ("SELECT 1 WHERE 1 IN system.one", "outside"),
        ("SELECT count() FROM numbers_mt(1e11) WHERE sipHash64(number) = 1", "numbers_mt() generates data"),
        ("SELECT length(groupArray(number)) FROM numbers(150000000)", "numbers() generates data"),
        ("SELECT * FROM zeros(10)", "zeros() generates data"),
        ("SELECT * FROM generateRandom('a UInt8') LIMIT 1", "generateRandom() generates data"),
        ("SELECT * FROM generate_series(1, 10)", "generate_series() generates data"),
        ("   ", "empty"),
    ],
)
async def test_sql_refusals_are_400_with_the_reason(api: Api, query: str, reason: str) -> None:
    answer = await sql(api, query)
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["errors"]["detail"]


async def test_sql_truncates_at_max_rows(api: Api) -> None:
    answer = await sql(api, "SELECT arrayJoin(range(20000)) AS number")
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert len(data["rows"]) == 10_000
    assert data["truncated"] is True


_CROSS = (
    "SELECT count() FROM (SELECT arrayJoin(range(10000)) AS a) AS l, "
    "(SELECT arrayJoin(range(10000)) AS b) AS r WHERE sipHash64(a, b) = 1"
)


@pytest.mark.parametrize(
    ("limits", "query", "reason"),
    [
        (
            {"max_rows_to_read": 5},
            "SELECT sum(double_value) FROM {db}.individual_datastreams",
            "TOO_MANY_ROWS",
        ),
        (
            {"max_bytes_to_read": 16},
            "SELECT sum(double_value) FROM {db}.individual_datastreams",
            "TOO_MANY_BYTES",
        ),
        (
            {"max_memory_bytes": 20_000_000},
            "SELECT length(groupArray(x)) FROM (SELECT arrayJoin(range(10000000)) AS x)",
            "MEMORY_LIMIT_EXCEEDED",
        ),
        ({"max_execution_s": 1}, _CROSS, "maximum: 1000.000 ms. (TIMEOUT_EXCEEDED)"),
    ],
)
async def test_sql_past_a_limit_is_400_with_clickhouses_reason(
    api: Api, limits: dict[str, int], query: str, reason: str
) -> None:
    await tens(api)
    _platform(api).sql = SqlSettings(**limits)

    answer = await sql(api, query)

    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["errors"]["detail"]


async def test_chdb_takes_the_limits_of_a_realm_query(api: Api) -> None:
    limits = SqlSettings(max_execution_s=7, max_memory_bytes=123_456_789, max_rows_to_read=1234)
    names = ("readonly", "max_execution_time", "max_memory_usage", "max_rows_to_read", "max_threads")
    settings = settings_clause("acme", api.store.database, limits)

    got = await api.store.sql_lane.query(
        "SELECT " + ", ".join(f"toString(getSetting('{name}'))" for name in names) + " " + settings
    )

    assert got == [("1", "7", "123456789", "1234", "1")]


async def test_sql_within_the_limits_answers(api: Api) -> None:
    await tens(api)
    _platform(api).sql = SqlSettings(max_rows_to_read=10, max_memory_bytes=20_000_000, max_execution_s=5)

    answer = await sql(api, "SELECT sum(double_value) AS s FROM {db}.individual_datastreams")

    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["rows"] == [[45.0]]


async def test_ingest_and_reads_do_not_wait_behind_sql(api: Api) -> None:
    await tens(api)
    running = asyncio.create_task(sql(api, "SELECT sleep(3) AS slept"))
    await asyncio.sleep(0.5)  # the query is under way in its lane

    await api.store_readings("org.acme.Types", [("/v/double", "double", 99.0, T0 + 60 * SECOND)])
    read = await api.get("org.acme.Types", "/v/double", limit=1)
    read_while_sql_ran = not running.done()
    answer = await running

    assert read.status_code == 200 and read.json()["data"][0]["value"] == 99.0
    assert read_while_sql_ran, "the insert and the read waited for the analyst's query"
    assert answer.status_code == 200, answer.text


async def test_sql_beyond_its_lanes_waits_then_is_429(api: Api) -> None:
    _platform(api).sql = SqlSettings(lane_wait_s=0.5)
    lane = api.store.sql_lane
    hogs = [asyncio.create_task(lane.query("SELECT sleep(2)")) for _ in range(lane.size)]
    await asyncio.sleep(0.2)

    refused = await sql(api, "SELECT 1")
    await asyncio.gather(*hogs)
    after = await sql(api, "SELECT 1 AS one")

    assert refused.status_code == 429, refused.text
    assert "SQL lanes" in refused.json()["errors"]["detail"]
    assert after.status_code == 200, after.text


async def test_a_real_path_ending_in_aggregates_is_data(api: Api) -> None:
    shadow = {
        "interface_name": "org.acme.Shadow",
        "version_major": 1,
        "version_minor": 0,
        "type": "datastream",
        "ownership": "device",
        "mappings": [{"endpoint": "/%{x}/aggregates", "type": "double"}],
    }
    await _registry(api).install_interface("acme", parse_interface(shadow))
    await api.store.query(
        "INSERT INTO {db}.individual_datastreams (realm, device_id, interface, major, path, value_type, "
        "timestamp, reading_id, double_value) VALUES ('acme', {device:String}, 'org.acme.Shadow', 1, "
        "'/a/aggregates', 'double', now64(), 1, 4.5)",
        {"device": api.device},
    )
    answer = await api.client.get(f"{AE}/devices/{api.device}/interfaces/org.acme.Shadow/a/aggregates")
    assert answer.status_code == 200, answer.text
    assert [s["value"] for s in answer.json()["data"]] == [4.5]


async def test_ttl_drops_expired_rows_and_keeps_the_others(api: Api) -> None:
    await api.store.query(
        "INSERT INTO {db}.individual_datastreams (realm, device_id, interface, major, path, value_type, "
        "timestamp, reading_id, double_value, ttl_seconds) VALUES "
        "('acme', 'd', 'i', 1, '/old', 'double', now64() - 3600, 1, 1, 60), "
        "('acme', 'd', 'i', 1, '/fresh', 'double', now64(), 2, 2, 60), "
        "('acme', 'd', 'i', 1, '/forever', 'double', now64() - 86400 * 400, 3, 3, 0)",
        {},
    )
    await api.store.query("OPTIMIZE TABLE {db}.individual_datastreams FINAL", {})
    rows = await api.store.query("SELECT path FROM {db}.individual_datastreams WHERE device_id = 'd'", {})
    assert sorted(row[0] for row in rows) == ["/forever", "/fresh"]


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/devices/{device}/interfaces/org.acme.Types/v/double/aggregates?interval=1m"),
        ("GET", "/interfaces/org.acme.Types/v/double/aggregates?interval=1m&devices={device}"),
        ("GET", "/devices/{device}/interfaces/org.acme.Types/v/double/export"),
        ("GET", "/interfaces/org.acme.Types/v/double/export?devices={device}"),
        ("GET", "/sql?query=SELECT%201"),
        ("POST", "/sql"),
    ],
)
async def test_every_route_needs_a_key(api: Api, method: str, url: str) -> None:
    answer = await api.client.request(
        method,
        AE + url.format(device=api.device),
        json={"query": "SELECT 1"} if method == "POST" else None,
        headers={"Authorization": ""},
    )
    assert answer.status_code == 401, answer.text
