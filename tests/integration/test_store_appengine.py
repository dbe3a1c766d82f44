"""AppEngine reads over the real store (chDB) and registry (SQLite): every shape and parameter."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.api import Platform, create_app
from pipeline.registry import Registry
from pipeline.registry.status import DeviceStatusBook
from pipeline.store.clickhouse import ClickHouseStore
from pipeline.store.columns import insert_columns
from pipeline.store.shapes import Shape
from schemas.interface import parse_interface
from tests.helpers import random_device_id

T0 = 1_700_000_000_000_000  # 2023-11-14T22:13:20Z
ISO0 = "2023-11-14T22:13:20.000Z"
BIG = 2**60
TYPES = {
    "double": (21.5, 21.5),
    "integer": (7, 7),
    "boolean": (False, False),
    "longinteger": (BIG, str(BIG)),
    "string": ("café", "café"),
    "binaryblob": (b"\x00\xff", base64.b64encode(b"\x00\xff").decode()),
    "datetime": (T0 + 5000, "2023-11-14T22:13:20.005Z"),
    "doublearray": ([1.5, 2.5], [1.5, 2.5]),
    "integerarray": ([1, -2], [1, -2]),
    "booleanarray": ([True, False], [True, False]),
    "longintegerarray": ([BIG, 1], [str(BIG), "1"]),
    "stringarray": (["a", "b"], ["a", "b"]),
    "binaryblobarray": ([b"\x01"], ["AQ=="]),
    "datetimearray": ([T0], [ISO0]),
}
INTERFACES = [
    {
        "interface_name": "org.acme.Props",
        "version_major": 1,
        "version_minor": 0,
        "type": "properties",
        "ownership": "device",
        "mappings": [
            {"endpoint": "/%{room}/temp", "type": "double", "allow_unset": True},
            {"endpoint": "/%{room}/name", "type": "string"},
            {"endpoint": "/config/big", "type": "longinteger"},
        ],
    },
    {
        "interface_name": "org.acme.Types",
        "version_major": 1,
        "version_minor": 0,
        "type": "datastream",
        "ownership": "device",
        "mappings": [{"endpoint": f"/v/{t}", "type": t, "explicit_timestamp": True} for t in TYPES],
    },
    {
        "interface_name": "org.acme.Obj",
        "version_major": 1,
        "version_minor": 0,
        "type": "datastream",
        "ownership": "device",
        "aggregation": "object",
        "mappings": [
            {"endpoint": "/%{sensor}/t", "type": "double", "explicit_timestamp": True},
            {"endpoint": "/%{sensor}/n", "type": "integer", "explicit_timestamp": True},
            {"endpoint": "/%{sensor}/big", "type": "longinteger", "explicit_timestamp": True},
            {"endpoint": "/%{sensor}/label", "type": "string", "explicit_timestamp": True},
        ],
    },
]
SHAPES = {i["interface_name"]: Shape.of(parse_interface(i)) for i in INTERFACES}


class Api:
    """An httpx client on the app plus a way to store readings of one device."""

    def __init__(self, client: httpx.AsyncClient, store: ClickHouseStore, device: str) -> None:
        self.client, self.store, self.device = client, store, device
        self._ids = 1

    async def get(self, interface: str, path: str = "", **params: Any) -> httpx.Response:
        url = f"/appengine/v1/acme/devices/{self.device}/interfaces/{interface}{path}"
        return await self.client.get(url, params=params)

    async def store_readings(
        self, interface: str, readings: list[tuple[str, str, object, int]], major: int = 1
    ) -> None:
        batch = {
            "batch_id": "b",
            "id_base": self._ids,
            "broker_id": "t",
            "produced_at": T0,
            "readings": [
                {
                    "realm": "acme",
                    "device_id": self.device,
                    "interface": interface,
                    "major": major,
                    "path": path,
                    "value_type": value_type,
                    "value": value,
                    "timestamp": at,
                    "reception_timestamp": at + 1000,
                }
                for path, value_type, value, at in readings
            ],
        }
        self._ids += 1000
        columns = insert_columns([batch], lambda _r, name, _m: SHAPES[name])
        if columns.individual_rows:
            await self.store.insert_individual(columns.individual)
        if columns.property_rows:
            await self.store.insert_properties(columns.properties)


@pytest.fixture
async def api(store: ClickHouseStore, tmp_path: Path) -> AsyncIterator[Api]:
    async with Registry(f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}") as registry:
        await registry.create_realm("acme")
        for interface in INTERFACES:
            await registry.install_interface("acme", parse_interface(interface))
        device = random_device_id()
        await registry.register_device("acme", device)
        key, _ = await registry.create_api_key("test", global_role="admin")
        platform = Platform(registry, store, None, None, "test", "mqtt://localhost:1883")  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=create_app(platform))
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://hw", headers=headers) as client:
            yield Api(client, store, device)


async def series(api: Api, count: int = 5, path: str = "/v/double") -> None:
    await api.store_readings(
        "org.acme.Types", [(path, "double", float(i), T0 + i * 1000) for i in range(count)]
    )


@pytest.mark.parametrize("value_type", list(TYPES))
async def test_each_value_type_reads_back_in_astartes_json_form(api: Api, value_type: str) -> None:
    stored, expected = TYPES[value_type]
    await api.store_readings("org.acme.Types", [(f"/v/{value_type}", value_type, stored, T0)])

    answer = await api.get("org.acme.Types", f"/v/{value_type}")

    assert answer.status_code == 200
    assert answer.json() == {
        "data": [{"value": expected, "timestamp": ISO0, "reception_timestamp": "2023-11-14T22:13:20.001Z"}]
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [str(BIG), "5", str(-BIG)]),
        ({"allow_bigintegers": "true"}, [BIG, 5, -BIG]),
        ({"allow_safe_bigintegers": "true"}, [str(BIG), 5, str(-BIG)]),
        ({"allow_bigintegers": "false", "allow_safe_bigintegers": "1"}, [str(BIG), 5, str(-BIG)]),
    ],
)
async def test_longintegers_are_strings_unless_allowed(
    api: Api, params: dict[str, str], expected: list[Any]
) -> None:
    values = [BIG, 5, -BIG]
    await api.store_readings(
        "org.acme.Types", [("/v/longinteger", "longinteger", v, T0 + i) for i, v in enumerate(values)]
    )

    answer = await api.get("org.acme.Types", "/v/longinteger", **params)

    assert [s["value"] for s in answer.json()["data"]] == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [0.0, 1.0, 2.0, 3.0, 4.0]),
        ({"limit": "2"}, [3.0, 4.0]),
        ({"limit": "1"}, [4.0]),
        ({"since": "2023-11-14T22:13:20.003Z"}, [3.0, 4.0]),
        ({"since_after": "2023-11-14T22:13:20.003Z"}, [4.0]),
        ({"to": "2023-11-14T22:13:20.002Z"}, [0.0, 1.0]),
        ({"since": "2023-11-14T22:13:20.001Z", "to": "2023-11-14T22:13:20.003Z"}, [1.0, 2.0]),
        ({"since": "2023-11-14T22:13:20.001Z", "limit": "1"}, [1.0]),
        ({"to": "2023-11-14T22:13:20.003Z", "limit": "2"}, [1.0, 2.0]),
        ({"since": "2030-01-01T00:00:00Z"}, []),
        ({"since": "0001-01-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"}, [0.0, 1.0, 2.0, 3.0, 4.0]),
        ({"since_after": "1800-01-01T00:00:00Z", "limit": "1"}, [0.0]),
        ({"to": "2500-01-01T00:00:00Z", "limit": "1"}, [4.0]),
    ],
)
async def test_windows_and_limits(api: Api, params: dict[str, str], expected: list[float]) -> None:
    await series(api)

    answer = await api.get("org.acme.Types", "/v/double", **params)

    assert answer.status_code == 200
    assert [s["value"] for s in answer.json()["data"]] == expected


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (
            "structured",
            {"data": [{"value": 0.0, "timestamp": ISO0, "reception_timestamp": "2023-11-14T22:13:20.001Z"}]},
        ),
        (
            "table",
            {
                "metadata": {
                    "columns": {"timestamp": 0, "double": 1},
                    "table_header": ["timestamp", "double"],
                },
                "data": [[ISO0, 0.0]],
            },
        ),
        ("disjoint_tables", {"data": {"value": [[0.0, ISO0]]}}),
    ],
)
async def test_individual_formats(api: Api, fmt: str, expected: dict[str, Any]) -> None:
    await series(api, 1)

    answer = await api.get("org.acme.Types", "/v/double", format=fmt)

    assert answer.json() == expected


async def test_keep_milliseconds_gives_epoch_milliseconds(api: Api) -> None:
    await series(api, 1)

    answer = await api.get("org.acme.Types", "/v/double", keep_milliseconds="true")

    assert answer.json()["data"] == [
        {"value": 0.0, "timestamp": T0 // 1000, "reception_timestamp": T0 // 1000 + 1}
    ]


@pytest.mark.parametrize(("limit", "ties"), [(3, False), (2, False), (3, True), (1, True)])
async def test_links_next_pages_through_everything_once(api: Api, limit: int, ties: bool) -> None:
    # With ties, readings share timestamps in pairs: a page cut between them must not lose one.
    times = [T0 + (i // 2 if ties else i) * 1000 for i in range(7)]
    await api.store_readings("org.acme.Types", [("/v/integer", "integer", i, t) for i, t in enumerate(times)])

    seen: list[int] = []
    answer = (
        await api.get("org.acme.Types", "/v/integer", since="2023-01-01T00:00:00Z", limit=str(limit))
    ).json()
    pages = 1
    while "links" in answer:
        seen += [s["value"] for s in answer["data"]]
        assert answer["links"]["self"].startswith("http://hw/")
        answer = (await api.client.get(answer["links"]["next"])).json()
        pages += 1
        assert pages < 20
    seen += [s["value"] for s in answer["data"]]

    assert sorted(seen) == list(range(7))
    assert len(seen) == 7
    assert pages > 1


async def test_an_uncut_answer_has_no_links(api: Api) -> None:
    await series(api, 3)

    answer = await api.get("org.acme.Types", "/v/double", since="2023-01-01T00:00:00Z", limit="3")

    assert set(answer.json()) == {"data"}


async def test_downsample_to_keeps_the_peak_in_n_points(api: Api) -> None:
    values = [0.0] * 200
    values[77] = 50.0
    await api.store_readings(
        "org.acme.Types", [("/v/double", "double", v, T0 + i * 1000) for i, v in enumerate(values)]
    )

    answer = await api.get("org.acme.Types", "/v/double", downsample_to="10")

    data = answer.json()["data"]
    assert len(data) == 10
    assert 50.0 in [d["value"] for d in data]
    assert data[0]["timestamp"] == ISO0


async def test_downsample_to_looks_at_the_whole_window_not_the_first_page(api: Api) -> None:
    # More points than one page (MAX_LIMIT); the first and last of the window must be considered.
    count = 25_000
    values = [float(i % 7) for i in range(count)]
    values[-1] = 99.0
    await api.store_readings(
        "org.acme.Types", [("/v/double", "double", v, T0 + i * 1000) for i, v in enumerate(values)]
    )

    answer = await api.get("org.acme.Types", "/v/double", downsample_to="50")

    data = answer.json()["data"]
    assert len(data) == 50
    assert data[0]["timestamp"] == ISO0
    assert data[-1]["value"] == 99.0


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        ("/v/double", {"since": "yesterday"}, "since"),
        ("/v/double", {"to": "2023-13-01"}, "to"),
        ("/v/double", {"since": "2023-01-01", "since_after": "2023-01-01"}, "since_after"),
        ("/v/double", {"since": "2024-01-01", "to": "2023-01-01"}, "to must be later"),
        ("/v/double", {"limit": "0"}, "limit"),
        ("/v/double", {"limit": "10001"}, "limit"),
        ("/v/double", {"limit": "ten"}, "limit"),
        ("/v/double", {"downsample_to": "2"}, "downsample_to"),
        ("/v/double", {"downsample_to": "x"}, "downsample_to"),
        ("/v/string", {"downsample_to": "10"}, "numeric"),
        ("/v/double", {"downsample_to": "10", "downsample_key": "t"}, "object"),
        ("/v/double", {"downsample_key": "t"}, "downsample_to"),
        ("/v/double", {"format": "csv"}, "format"),
        ("/v/double", {"keep_milliseconds": "maybe"}, "keep_milliseconds"),
        ("/v/double", {"allow_bigintegers": "2"}, "allow_bigintegers"),
        ("/s1", {"downsample_to": "10"}, "downsample_key"),
        ("/s1", {"downsample_to": "10", "downsample_key": "nope"}, "nope"),
        ("/s1", {"downsample_to": "10", "downsample_key": "label"}, "numeric"),
    ],
)
async def test_bad_parameters_are_400_with_the_reason(
    api: Api, path: str, params: dict[str, str], reason: str
) -> None:
    interface = "org.acme.Obj" if path == "/s1" else "org.acme.Types"

    answer = await api.get(interface, path, **params)

    assert answer.status_code == 400
    assert reason in answer.json()["errors"]["detail"]


@pytest.mark.parametrize(
    ("interface", "path"),
    [("org.acme.Types", "/v/nothing"), ("org.acme.Obj", "/s1/t/extra"), ("org.acme.Nope", "/v/double")],
)
async def test_unknown_paths_and_interfaces_are_404(api: Api, interface: str, path: str) -> None:
    answer = await api.get(interface, path)

    assert answer.status_code == 404
    assert answer.json()["errors"]["detail"]


async def objects(api: Api) -> None:
    await api.store_readings(
        "org.acme.Obj",
        [
            ("/s1", "object", {"t": float(i), "n": i, "big": BIG, "label": f"l{i}"}, T0 + i * 1000)
            for i in range(4)
        ]
        + [("/s2", "object", {"t": 9.5}, T0)],
    )


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (
            "structured",
            {
                "data": [
                    {
                        "timestamp": ISO0,
                        "t": 0.0,
                        "n": 0,
                        "big": str(BIG),
                        "label": "l0",
                    },
                    {
                        "timestamp": "2023-11-14T22:13:20.001Z",
                        "t": 1.0,
                        "n": 1,
                        "big": str(BIG),
                        "label": "l1",
                    },
                ]
            },
        ),
        (
            "table",
            {
                "metadata": {
                    "columns": {"timestamp": 0, "t": 1, "n": 2, "big": 3, "label": 4},
                    "table_header": ["timestamp", "t", "n", "big", "label"],
                },
                "data": [
                    [ISO0, 0.0, 0, str(BIG), "l0"],
                    ["2023-11-14T22:13:20.001Z", 1.0, 1, str(BIG), "l1"],
                ],
            },
        ),
        (
            "disjoint_tables",
            {
                "data": {
                    "t": [[0.0, ISO0], [1.0, "2023-11-14T22:13:20.001Z"]],
                    "n": [[0, ISO0], [1, "2023-11-14T22:13:20.001Z"]],
                    "big": [[str(BIG), ISO0], [str(BIG), "2023-11-14T22:13:20.001Z"]],
                    "label": [["l0", ISO0], ["l1", "2023-11-14T22:13:20.001Z"]],
                }
            },
        ),
    ],
)
async def test_object_formats(api: Api, fmt: str, expected: dict[str, Any]) -> None:
    await objects(api)

    answer = await api.get("org.acme.Obj", "/s1", format=fmt, to="2023-11-14T22:13:20.002Z")

    assert answer.json() == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [({}, [0, 1, 2, 3]), ({"limit": "2"}, [2, 3]), ({"since_after": ISO0, "limit": "1"}, [1])],
)
async def test_object_windows_count_objects(api: Api, params: dict[str, str], expected: list[int]) -> None:
    await objects(api)

    answer = await api.get("org.acme.Obj", "/s1", **params)

    assert [o["n"] for o in answer.json()["data"]] == expected


async def test_object_downsample_key_gives_timestamp_and_key(api: Api) -> None:
    await objects(api)

    answer = await api.get("org.acme.Obj", "/s1", downsample_to="3", downsample_key="t")

    data = answer.json()["data"]
    assert len(data) == 3
    assert all(set(d) == {"timestamp", "t"} for d in data)
    assert data[0] == {"timestamp": ISO0, "t": 0.0} and data[-1]["t"] == 3.0


async def test_object_snapshot_is_the_latest_object_per_prefix(api: Api) -> None:
    await objects(api)

    answer = await api.get("org.acme.Obj")

    assert answer.json()["data"] == {
        "s1": {"timestamp": "2023-11-14T22:13:20.003Z", "t": 3.0, "n": 3, "big": str(BIG), "label": "l3"},
        "s2": {"timestamp": ISO0, "t": 9.5},
    }


async def test_object_snapshot_of_one_path_lists_its_objects_under_it(api: Api) -> None:
    """As Astarte answers the SDK's e2e suite: ``{"sensor_id": [objects, oldest first]}``, each
    object its members in Astarte's encodings beside ``timestamp`` only."""
    every = {
        "d": ("double", 5.4, 5.4),
        "big": ("longinteger", 45543543534, "45543543534"),
        "blob": ("binaryblob", b"binblob", "YmluYmxvYg=="),
        "at": ("datetime", T0, ISO0),
        "bigs": ("longintegerarray", [45543543534, 0], ["45543543534", "0"]),
        "blobs": ("binaryblobarray", [b"bin", b"blob"], ["Ymlu", "YmxvYg=="]),
        "ats": ("datetimearray", [T0, T0 + 1000], [ISO0, "2023-11-14T22:13:20.001Z"]),
        "none": ("doublearray", [], []),
    }
    interface = {
        "interface_name": "org.acme.Every",
        "version_major": 1,
        "version_minor": 0,
        "type": "datastream",
        "ownership": "device",
        "aggregation": "object",
        "mappings": [{"endpoint": f"/%{{sensor}}/{m}", "type": t} for m, (t, _, _) in every.items()],
    }
    platform = api.client._transport.app.state.platform  # type: ignore[attr-defined]
    await platform.registry.install_interface("acme", parse_interface(interface))
    SHAPES["org.acme.Every"] = Shape.of(parse_interface(interface))
    sent = {member: value for member, (_, value, _) in every.items()}
    await api.store_readings("org.acme.Every", [("/sensor_id", "object", sent, T0 + i) for i in (0, 5000)])

    answer = await api.get("org.acme.Every")

    expected = {member: shown for member, (_, _, shown) in every.items()}
    assert answer.status_code == 200
    assert answer.json() == {
        "data": {
            "sensor_id": [
                {"timestamp": ISO0, **expected},
                {"timestamp": "2023-11-14T22:13:20.005Z", **expected},
            ]
        }
    }


async def test_datastream_snapshot_is_the_latest_value_per_path(api: Api) -> None:
    await series(api, 3)
    await api.store_readings("org.acme.Types", [("/v/longinteger", "longinteger", BIG, T0)])

    data = (await api.get("org.acme.Types")).json()["data"]

    assert data["v"]["double"]["value"] == 2.0
    assert data["v"]["longinteger"]["value"] == BIG
    assert set(data["v"]) == {"double", "longinteger"}


async def properties(api: Api) -> None:
    await api.store_readings(
        "org.acme.Props",
        [
            ("/kitchen/temp", "double", 20.0, T0),
            ("/kitchen/name", "string", "Kitchen", T0),
            ("/hall/temp", "double", 18.0, T0),
            ("/config/big", "longinteger", BIG, T0),
        ],
    )
    await api.store_readings(
        "org.acme.Props",
        [("/kitchen/temp", "double", 21.0, T0 + 10), ("/hall/temp", "double", None, T0 + 10)],
    )


async def test_properties_snapshot_is_a_tree_of_set_values(api: Api) -> None:
    await properties(api)

    answer = await api.get("org.acme.Props")

    assert answer.json() == {"data": {"kitchen": {"temp": 21.0, "name": "Kitchen"}, "config": {"big": BIG}}}


@pytest.mark.parametrize(
    ("path", "status", "data"),
    [
        ("/kitchen/temp", 200, 21.0),
        ("/kitchen", 200, {"temp": 21.0, "name": "Kitchen"}),
        ("/config/big", 200, BIG),
        ("/hall/temp", 404, None),
        ("/hall", 404, None),
    ],
)
async def test_property_paths(api: Api, path: str, status: int, data: Any) -> None:
    await properties(api)

    answer = await api.get("org.acme.Props", path)

    assert answer.status_code == status
    if status == 200:
        assert answer.json() == {"data": data}


async def test_readings_of_another_major_stay_out(api: Api) -> None:
    await series(api, 2)
    await api.store_readings("org.acme.Types", [("/v/double", "double", 99.0, T0 + 5000)], major=0)

    values = [s["value"] for s in (await api.get("org.acme.Types", "/v/double")).json()["data"]]
    snapshot = (await api.get("org.acme.Types")).json()["data"]

    assert values == [0.0, 1.0]
    assert snapshot["v"]["double"]["value"] == 1.0


async def test_an_interface_the_device_removed_from_its_introspection_answers_404(api: Api) -> None:
    """As in Astarte: a device's data reads go through its introspection; the data is kept."""
    await series(api, 2)
    platform = api.client._transport.app.state.platform  # type: ignore[attr-defined]
    book = DeviceStatusBook(platform.registry)

    async def declare(introspection: str) -> None:
        event = {"realm": "acme", "device_id": api.device, "type": "incoming_introspection"}
        await book.apply({**event, "timestamp": T0, "metadata": {"introspection": introspection}})

    await declare("org.acme.Obj:1:0")
    removed = [(await api.get("org.acme.Types", path)).status_code for path in ("", "/v/double")]
    await declare("org.acme.Obj:1:0;org.acme.Types:1:0")
    back = await api.get("org.acme.Types", "/v/double")

    assert removed == [404, 404]
    assert [s["value"] for s in back.json()["data"]] == [0.0, 1.0]


async def test_a_device_lists_the_interfaces_of_its_introspection(api: Api) -> None:
    url = f"/appengine/v1/acme/devices/{api.device}/interfaces"
    before = await api.client.get(url)
    platform = api.client._transport.app.state.platform  # type: ignore[attr-defined]
    event = {"realm": "acme", "device_id": api.device, "type": "incoming_introspection", "timestamp": T0}
    await DeviceStatusBook(platform.registry).apply(
        {**event, "metadata": {"introspection": "org.acme.Types:1:0;org.acme.Obj:1:0"}}
    )

    after = await api.client.get(url)
    stranger = await api.client.get("/appengine/v1/acme/devices/AAAAAAAAAAAAAAAAAAAAAA/interfaces")

    assert before.json() == {"data": []}
    assert after.json() == {"data": ["org.acme.Obj", "org.acme.Types"]}
    assert stranger.status_code == 404
