"""Export encodings of stored rows: CSV, Parquet and Arrow IPC stream, one chunk at a time (pure).

Every encoder takes chunks of ``(device_id, timestamp µs, reception µs, value)`` rows and gives
bytes as soon as a chunk is encoded, so an export streams with bounded memory. Columns:
``device_id, timestamp, reception_timestamp, value``, the value typed by its mapping type.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from typing import Any, Final

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from pyarrow import ipc

from pipeline.api.readopts import iso_micros

MEDIA_TYPES: Final = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}
_TIME = pa.timestamp("us", tz="UTC")
ARROW_TYPES: Final = {
    "double": pa.float64(),
    "integer": pa.int32(),
    "longinteger": pa.int64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
    "binaryblob": pa.binary(),
    "datetime": _TIME,
    "doublearray": pa.list_(pa.float64()),
    "integerarray": pa.list_(pa.int32()),
    "longintegerarray": pa.list_(pa.int64()),
    "booleanarray": pa.list_(pa.bool_()),
    "stringarray": pa.list_(pa.string()),
    "binaryblobarray": pa.list_(pa.binary()),
    "datetimearray": pa.list_(_TIME),
}
HEADER: Final = ("device_id", "timestamp", "reception_timestamp", "value")

Rows = list[tuple[Any, ...]]


def _raw(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def native(value_type: str, value: Any) -> Any:
    """A stored value as pyarrow takes it for ``ARROW_TYPES[value_type]``."""
    match value_type:
        case "binaryblob":
            return _raw(value)
        case "binaryblobarray":
            return [_raw(v) for v in value]
        case "string":
            return _text(value)
        case "stringarray":
            return [_text(v) for v in value]
        case "doublearray" | "integerarray" | "longintegerarray" | "booleanarray" | "datetimearray":
            return list(value)
    return value


def csv_text(value_type: str, value: Any) -> str:
    """A stored value as one CSV field: ISO 8601 times, base64 blobs, arrays as JSON."""
    match value_type:
        case "datetime":
            return iso_micros(value)
        case "binaryblob":
            return base64.b64encode(_raw(value)).decode()
        case "boolean":
            return "true" if value else "false"
        case "datetimearray":
            return json.dumps([iso_micros(v) for v in value])
        case "binaryblobarray":
            return json.dumps([base64.b64encode(_raw(v)).decode() for v in value])
        case "stringarray":
            return json.dumps([_text(v) for v in value])
        case "doublearray" | "integerarray" | "longintegerarray" | "booleanarray":
            return json.dumps(list(value))
        case "string":
            return _text(value)
    return str(value)


def schema(value_type: str) -> pa.Schema:
    return pa.schema(
        [
            ("device_id", pa.string()),
            ("timestamp", _TIME),
            ("reception_timestamp", _TIME),
            ("value", ARROW_TYPES[value_type]),
        ]
    )


def record_batch(rows: Rows, value_type: str) -> pa.RecordBatch:
    """One chunk of rows as an Arrow record batch."""
    kind = schema(value_type)
    return pa.RecordBatch.from_arrays(
        [
            pa.array([r[0] for r in rows], pa.string()),
            pa.array([r[1] for r in rows], _TIME),
            pa.array([r[2] for r in rows], _TIME),
            pa.array([native(value_type, r[3]) for r in rows], ARROW_TYPES[value_type]),
        ],
        schema=kind,
    )


class Drain:
    """A write-only file that hands out what was written since the last ``take`` (for pyarrow)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class Encoder:
    """Encodes chunks into one file of ``fmt`` (csv, parquet or arrow): feed, then finish."""

    def __init__(self, fmt: str, value_type: str) -> None:
        self.fmt = fmt
        self.value_type = value_type
        self._sink = Drain()
        self._writer: Any = None
        if fmt == "parquet":
            self._writer = pq.ParquetWriter(self._sink, schema(value_type), compression="zstd")
        elif fmt == "arrow":
            self._writer = ipc.new_stream(self._sink, schema(value_type))
        else:
            self._sink.write(self._csv([HEADER]))

    def _csv(self, lines: Any) -> bytes:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(lines)
        return text.getvalue().encode()

    def feed(self, rows: Rows) -> bytes:
        """The bytes of one more chunk (a Parquet row group, an Arrow batch, CSV lines)."""
        if self.fmt == "csv":
            vt = self.value_type
            lines = ((r[0], iso_micros(r[1]), iso_micros(r[2]), csv_text(vt, r[3])) for r in rows)
            self._sink.write(self._csv(lines))
        elif self.fmt == "parquet":
            self._writer.write_batch(record_batch(rows, self.value_type))
        else:
            self._writer.write_batch(record_batch(rows, self.value_type))
        return self._sink.take()

    def finish(self) -> bytes:
        """The closing bytes (Parquet footer, Arrow end-of-stream); the file is complete after them."""
        if self._writer is not None:
            self._writer.close()
        return self._sink.take()


def encode(fmt: str, value_type: str, chunks: list[Rows]) -> Iterator[bytes]:
    """A whole file from chunks held in memory (tests and small exports)."""
    encoder = Encoder(fmt, value_type)
    for rows in chunks:
        yield encoder.feed(rows)
    yield encoder.finish()
