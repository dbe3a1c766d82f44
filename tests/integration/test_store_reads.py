"""Store reads on chDB: properties (latest wins, unsets), objects regrouped, LTTB downsampling."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.store.clickhouse import ClickHouseStore
from pipeline.store.columns import insert_columns
from pipeline.store.downsample import downsampled
from pipeline.store.objects import latest_objects, path_objects
from pipeline.store.properties import property_values
from pipeline.store.readings import Window
from pipeline.store.shapes import Shape
from tests.helpers import random_device_id, reading

T0 = 1_700_000_000_000_000
PROPS = Shape(properties=True, is_object=False)
OBJECT = Shape(
    properties=False, is_object=True, member_types={"t": "double", "n": "integer", "at": "datetime"}
)


def batch(id_base: int, *readings: dict[str, Any]) -> dict[str, Any]:
    return {
        "batch_id": "b",
        "id_base": id_base,
        "broker_id": "t",
        "produced_at": T0,
        "readings": list(readings),
    }


async def store_batches(store: ClickHouseStore, shape: Shape, *batches: dict[str, Any]) -> None:
    columns = insert_columns(list(batches), lambda *_: shape)
    if columns.individual_rows:
        await store.insert_individual(columns.individual)
    if columns.property_rows:
        await store.insert_properties(columns.properties)


def prop(device: str, path: str, value: object, at: int, value_type: str = "integer") -> dict[str, Any]:
    return reading(device, path, value, at, value_type=value_type, interface="org.acme.Props")


async def props(store: ClickHouseStore, device: str, prefix: str = "/") -> dict[str, Any]:
    found = await property_values(
        store, realm="acme", device_id=device, interface="org.acme.Props", prefix=prefix
    )
    return {p.path: p.value for p in found}


async def test_the_latest_property_value_wins_even_when_an_older_one_is_replayed(
    store: ClickHouseStore,
) -> None:
    device = random_device_id()
    await store_batches(store, PROPS, batch(10, prop(device, "/a/x", 1, T0)))
    await store_batches(
        store, PROPS, batch(20, prop(device, "/a/x", 2, T0 + 10), prop(device, "/a/y", 5, T0))
    )
    await store_batches(store, PROPS, batch(10, prop(device, "/a/x", 1, T0)))  # the older batch again

    assert await props(store, device) == {"/a/x": 2, "/a/y": 5}


async def test_an_unset_property_is_absent_and_a_later_set_brings_it_back(store: ClickHouseStore) -> None:
    device = random_device_id()
    await store_batches(
        store, PROPS, batch(1, prop(device, "/a/x", 1, T0), prop(device, "/b", "s", T0, "string"))
    )
    await store_batches(store, PROPS, batch(5, prop(device, "/a/x", None, T0 + 5)))
    unset = await props(store, device)
    await store_batches(store, PROPS, batch(9, prop(device, "/a/x", 3, T0 + 9)))

    assert unset == {"/b": "s"}
    assert await props(store, device) == {"/a/x": 3, "/b": "s"}


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("/", {"/a/x", "/a/y", "/ab"}), ("/a", {"/a/x", "/a/y"}), ("/a/x", {"/a/x"}), ("/zz", set())],
)
async def test_property_prefixes_select_whole_segments(
    store: ClickHouseStore, prefix: str, expected: set[str]
) -> None:
    device = random_device_id()
    await store_batches(store, PROPS, batch(1, *(prop(device, p, 1, T0) for p in ("/a/x", "/a/y", "/ab"))))

    assert set(await props(store, device, prefix)) == expected


def obj(device: str, path: str, value: dict[str, Any], at: int) -> dict[str, Any]:
    return reading(device, path, value, at, value_type="object", interface="org.acme.Obj")


async def test_objects_come_back_whole_typed_by_the_interface_and_limited_by_object(
    store: ClickHouseStore,
) -> None:
    device = random_device_id()
    await store_batches(
        store,
        OBJECT,
        batch(100, *(obj(device, "/s1", {"t": float(i), "n": i, "at": T0}, T0 + i) for i in range(5))),
        batch(200, obj(device, "/s2", {"t": 9.5, "n": 9, "at": T0}, T0)),
    )
    query = {"realm": "acme", "device_id": device, "interface": "org.acme.Obj", "prefix": "/s1"}

    every = await path_objects(store, **query, window=Window())
    latest_two = await path_objects(store, **query, window=Window(limit=2))
    since = await path_objects(store, **query, window=Window(since=T0 + 3, limit=1))

    assert every[0].values == {"t": 0.0, "n": 0, "at": "2023-11-14T22:13:20.000Z"}
    assert [o.values["n"] for o in every] == [0, 1, 2, 3, 4]
    assert every[0].types == {"t": "double", "n": "integer", "at": "datetime"}
    assert [o.values["n"] for o in latest_two] == [3, 4]
    assert [o.values["n"] for o in since] == [3]


async def test_the_object_snapshot_is_the_latest_object_per_prefix(store: ClickHouseStore) -> None:
    device = random_device_id()
    await store_batches(
        store,
        OBJECT,
        batch(1, obj(device, "/s1", {"t": 1.0, "n": 1}, T0), obj(device, "/s1", {"t": 2.0}, T0 + 1)),
        batch(7, obj(device, "/s2", {"t": 3.0, "n": 3}, T0)),
    )

    latest = await latest_objects(store, realm="acme", device_id=device, interface="org.acme.Obj")

    assert {o.prefix: o.values for o in latest} == {"/s1": {"t": 2.0}, "/s2": {"t": 3.0, "n": 3}}


@pytest.mark.parametrize(("value_type", "make"), [("double", float), ("integer", int), ("longinteger", int)])
async def test_downsampling_keeps_the_ends_and_the_peaks(
    store: ClickHouseStore, value_type: str, make: Any
) -> None:
    device = random_device_id()
    values = [make(0)] * 100
    values[50] = make(1000)
    await store_batches(
        store,
        Shape(False, False),
        batch(
            0, *(reading(device, "/v", v, T0 + i * 1000, value_type=value_type) for i, v in enumerate(values))
        ),
    )

    points = await downsampled(
        store,
        realm="acme",
        device_id=device,
        interface="org.acme.Temperature",
        path="/v",
        value_type=value_type,
        window=Window(),
        points=5,
    )

    assert len(points) == 5
    assert points[0].timestamp == T0 and points[-1].timestamp == T0 + 99_000
    assert make(1000) in [p.value for p in points]
    assert all(type(p.value) is make for p in points)
    assert [p.timestamp for p in points] == sorted(p.timestamp for p in points)


async def test_properties_of_two_majors_do_not_replace_each_other(store: ClickHouseStore) -> None:
    device = random_device_id()
    newer_other_major = {**prop(device, "/a/x", 9, T0 + 10), "major": 1}
    await store_batches(store, PROPS, batch(1, prop(device, "/a/x", 1, T0), newer_other_major))

    major0 = await property_values(store, realm="acme", device_id=device, interface="org.acme.Props", major=0)
    major1 = await property_values(store, realm="acme", device_id=device, interface="org.acme.Props", major=1)

    assert [p.value for p in major0] == [1]
    assert [p.value for p in major1] == [9]
