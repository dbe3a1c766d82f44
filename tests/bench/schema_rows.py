"""Realistic individual-datastream rows for the schema benchmark, generated column-wise with numpy.

Every device has three interfaces sampled together on their own clock (a reading every
``interval`` seconds, with jitter, millisecond device timestamps):

- ``org.acme.Environment`` 0: ``/<room>/temperature`` (daily cycle plus a random walk, 0.01 steps)
  and ``/<room>/humidity`` (0.1 steps), rooms named per device;
- ``org.acme.Meter`` 1: ``/power`` (watts, full-precision doubles) and ``/energy`` (a longinteger
  counter, watt-hours);
- ``org.acme.Status`` 0: ``/state`` (a string that changes now and then).

Devices are spread over four realms with Astarte-style random ids. Rows come in arrival order
(reception time, 10-300 ms after the device time) and get reading ids as the broker gives them:
a random 62-bit base per 500-row batch plus the index in the batch.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REALMS = ("acme", "globex", "initech", "umbrella")
ROOMS = ("kitchen", "livingroom", "bedroom", "office", "lab", "garage", "attic", "cellar")
STATES = ("idle", "running", "charging", "fault")
# (interface, major, path template, value type) of each series a device has.
SERIES = (
    ("org.acme.Environment", 0, "/{room}/temperature", "double"),
    ("org.acme.Environment", 0, "/{room}/humidity", "double"),
    ("org.acme.Meter", 1, "/power", "double"),
    ("org.acme.Meter", 1, "/energy", "longinteger"),
    ("org.acme.Status", 0, "/state", "string"),
)
BATCH = 500
DAY_S = 86_400


def _dictionary(indices: np.ndarray, values: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), pa.array(values))


def _values(
    series: int, rng: np.random.Generator, daily: np.ndarray, interval: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The double, long and state-index values of one series for every device (rows x readings)."""
    shape = daily.shape
    double: np.ndarray = np.zeros(shape)
    long: np.ndarray = np.zeros(shape, dtype=np.int64)
    state: np.ndarray = np.zeros(shape, dtype=np.int32)
    walk = np.cumsum(rng.normal(0, 1, shape), axis=1)
    if series == 0:
        double = np.round(21 + 3 * daily + 0.02 * walk, 2)
    elif series == 1:
        double = np.clip(np.round(45 + 10 * daily + 0.1 * walk, 1), 0, 100)
    elif series == 2:
        double = np.abs(800 + 400 * daily + 5 * walk + rng.normal(0, 20, shape)) * 1.0001
    elif series == 3:
        watts = np.abs(800 + 400 * daily + rng.normal(0, 50, shape))
        start = rng.integers(0, 10**7, (shape[0], 1))
        long = start + np.cumsum(watts * interval / 3600, axis=1).astype(np.int64)
    else:
        changes = rng.random(shape) < 0.02
        state = np.cumsum(changes * rng.integers(1, len(STATES), shape), axis=1) % len(STATES)
    return double, long, state.astype(np.int32)


def generate(path: Path, *, rows: int, devices: int, interval: float, t0_us: int, seed: int = 7) -> int:
    """Write about ``rows`` rows to a Parquet file at ``path``; return how many were written."""
    rng = np.random.default_rng(seed)
    per = max(1, rows // (devices * len(SERIES)))
    ids = _ids(rng, devices)
    room = rng.integers(0, len(ROOMS), devices)
    step = np.arange(per) * interval
    columns: dict[str, list[np.ndarray]] = {k: [] for k in ("dev", "series", "t", "d", "l", "s")}
    # The paths of one interface are sampled together: they share their timestamps.
    clocks: dict[str, np.ndarray] = {}
    for interface in dict.fromkeys(s[0] for s in SERIES):
        jitter = rng.normal(0, 0.5, (devices, per))
        seconds = rng.uniform(0, interval, devices)[:, None] + step[None, :] + jitter
        clocks[interface] = t0_us + np.round(seconds * 1000).astype(np.int64) * 1000
    for series, (interface, *_) in enumerate(SERIES):
        phase = rng.uniform(0, 2 * np.pi, devices)[:, None]
        double, long, state = _values(
            series, rng, np.sin(2 * np.pi * step[None, :] / DAY_S + phase), interval
        )
        columns["dev"].append(np.repeat(np.arange(devices), per))
        columns["series"].append(np.full(devices * per, series))
        columns["t"].append(clocks[interface].ravel())
        columns["d"].append(double.ravel())
        columns["l"].append(long.ravel())
        columns["s"].append(state.ravel())
    flat = {k: np.concatenate(v) for k, v in columns.items()}
    received = flat["t"] + rng.integers(10_000, 300_000, flat["t"].size)
    order = np.argsort(received, kind="stable")
    flat = {k: v[order] for k, v in flat.items()}
    received = received[order]
    total = received.size
    bases = rng.integers(0, 2**62, total // BATCH + 1, dtype=np.int64).astype(np.uint64)
    index = np.arange(total)
    reading_id = bases[index // BATCH] + (index % BATCH).astype(np.uint64)
    dev, kind = flat["dev"], flat["series"]
    paths = sorted({p.format(room=r) for _, _, p, _ in SERIES for r in ROOMS})
    path_index = {p: i for i, p in enumerate(paths)}
    lookup = np.array(
        [
            [path_index[SERIES[s][2].format(room=ROOMS[r])] for s in range(len(SERIES))]
            for r in range(len(ROOMS))
        ]
    )
    string_type = np.array([SERIES[s][3] == "string" for s in range(len(SERIES))])
    table = pa.table(
        {
            "realm": _dictionary(dev % len(REALMS), list(REALMS)),
            "device_id": _dictionary(dev, ids),
            "interface": _dictionary(kind, [s[0] for s in SERIES]),
            "major": pa.array(np.array([s[1] for s in SERIES], dtype=np.uint32)[kind]),
            "path": _dictionary(lookup[room[dev], kind], paths),
            "value_type": _dictionary(kind, [s[3] for s in SERIES]),
            "timestamp": pa.array(flat["t"], pa.timestamp("us", tz="UTC")),
            "reception_timestamp": pa.array(received, pa.timestamp("us", tz="UTC")),
            "reading_id": pa.array(reading_id),
            "double_value": pa.array(flat["d"]),
            "long_value": pa.array(flat["l"]),
            "string_value": _dictionary(np.where(string_type[kind], flat["s"] + 1, 0), ["", *STATES]),
        }
    )
    pq.write_table(table, path)
    return total


def _ids(rng: np.random.Generator, devices: int) -> list[str]:
    return [base64.urlsafe_b64encode(rng.bytes(16)).rstrip(b"=").decode() for _ in range(devices)]
