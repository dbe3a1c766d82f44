"""The ClickHouse store on chDB: migrations, inserts, Astarte-shaped reads, harmless replays."""

from __future__ import annotations

import pytest

from pipeline.store import clickhouse
from pipeline.store.clickhouse import ClickHouseStore
from pipeline.store.columns import individual_columns
from pipeline.store.migrations import MIGRATIONS
from pipeline.store.readings import latest_samples, path_samples
from tests.helpers import random_device_id, reading

T0 = 1_700_000_000_000_000


def _batch(device: str, values: list[tuple[str, float, int]], id_base: int = 1000) -> dict[str, object]:
    return {
        "batch_id": "b",
        "id_base": id_base,
        "broker_id": "test",
        "produced_at": T0,
        "readings": [reading(device, path, value, ts) for path, value, ts in values],
    }


async def _insert(store: ClickHouseStore, *batches: dict[str, object]) -> None:
    columns, _ = individual_columns(list(batches))  # type: ignore[arg-type]
    await store.insert_individual(columns)


async def test_values_come_back_ascending_and_limit_takes_the_latest(store: ClickHouseStore) -> None:
    device = random_device_id()
    await _insert(store, _batch(device, [("/a/value", float(i), T0 + i * 1000) for i in range(5)]))
    query = {"realm": "acme", "device_id": device, "interface": "org.acme.Temperature", "path": "/a/value"}

    every = await path_samples(store, **query)
    latest_two = await path_samples(store, **query, limit=2)
    since = await path_samples(store, **query, since=T0 + 3000)
    since_after = await path_samples(store, **query, since_after=T0 + 3000)
    window = await path_samples(store, **query, since=T0 + 1000, to=T0 + 3000)

    assert [s.value for s in every] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [s.value for s in latest_two] == [3.0, 4.0]
    assert [s.value for s in since] == [3.0, 4.0]
    assert [s.value for s in since_after] == [4.0]
    assert [s.value for s in window] == [1.0, 2.0]
    assert every[0].to_json()["timestamp"] == "2023-11-14T22:13:20.000Z"


async def test_latest_samples_gives_one_value_per_path(store: ClickHouseStore) -> None:
    device = random_device_id()
    await _insert(
        store, _batch(device, [("/a/value", 1.0, T0), ("/a/value", 2.0, T0 + 5), ("/b/value", 7.0, T0)])
    )

    latest = await latest_samples(store, realm="acme", device_id=device, interface="org.acme.Temperature")

    assert {s.path: s.value for s in latest} == {"/a/value": 2.0, "/b/value": 7.0}


async def test_a_replayed_batch_does_not_show_twice(store: ClickHouseStore) -> None:
    device = random_device_id()
    batch = _batch(device, [("/a/value", float(i), T0 + i) for i in range(100)], id_base=42)
    await _insert(store, batch)
    await _insert(store, batch)

    samples = await path_samples(
        store, realm="acme", device_id=device, interface="org.acme.Temperature", path="/a/value"
    )

    assert len(samples) == 100


async def test_readings_of_another_device_or_realm_stay_apart(store: ClickHouseStore) -> None:
    mine, other = random_device_id(), random_device_id()
    await _insert(
        store, _batch(mine, [("/a/value", 1.0, T0)]), _batch(other, [("/a/value", 2.0, T0)], id_base=7)
    )

    samples = await path_samples(
        store, realm="acme", device_id=mine, interface="org.acme.Temperature", path="/a/value"
    )
    elsewhere = await path_samples(
        store, realm="other", device_id=mine, interface="org.acme.Temperature", path="/a/value"
    )

    assert [s.value for s in samples] == [1.0]
    assert elsewhere == []


async def test_migrations_apply_once(store: ClickHouseStore) -> None:
    again = ClickHouseStore(store.url, database=store.database)
    await again.start()
    try:
        rows = await again.query("SELECT version FROM {db}.schema_migrations", {})
    finally:
        await again.stop()

    assert sorted(rows) == [(version,) for version, _ in MIGRATIONS]
    assert len(MIGRATIONS) >= 2


async def test_rows_written_before_the_codec_migration_survive_it(
    store: ClickHouseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = f"{store.database}_old"
    monkeypatch.setattr(clickhouse, "MIGRATIONS", MIGRATIONS[:4])  # as a platform before version 5 was
    async with ClickHouseStore(store.url, database=database) as old:
        device = random_device_id()
        await _insert(old, _batch(device, [("/a/value", 1.5, T0), ("/a/value", 2.5, T0 + 1000)]))
    monkeypatch.setattr(clickhouse, "MIGRATIONS", MIGRATIONS)
    async with ClickHouseStore(store.url, database=database) as upgraded:
        before = await path_samples(
            upgraded, realm="acme", device_id=device, interface="org.acme.Temperature", path="/a/value"
        )
        await _insert(upgraded, _batch(device, [("/a/value", 3.5, T0 + 2000)], id_base=5000))
        await upgraded.query("OPTIMIZE TABLE {db}.individual_datastreams FINAL", {})
        after = await path_samples(
            upgraded, realm="acme", device_id=device, interface="org.acme.Temperature", path="/a/value"
        )
        codecs = dict(
            await upgraded.query(
                "SELECT name, compression_codec FROM system.columns "
                "WHERE database = {d:String} AND table = 'individual_datastreams'",
                {"d": database},
            )
        )

    assert [s.value for s in before] == [1.5, 2.5]
    assert [s.value for s in after] == [1.5, 2.5, 3.5]
    assert codecs["double_value"] == "CODEC(FPC(12), ZSTD(3))"
    assert codecs["timestamp"] == "CODEC(Delta(8), ZSTD(3))"
