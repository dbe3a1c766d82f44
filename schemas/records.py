"""Avro codecs of every Kafka record, in Avro's single-object encoding.

Each record starts with ``C3 01`` and the CRC-64-AVRO fingerprint of its writer
schema, so a reader can tell which schema wrote it when schemas evolve. Schemas
live beside this module as ``avro/*.avsc``; see ``avro/README.md`` for how each
may change.
"""

from __future__ import annotations

import io
import json
import struct
from functools import cache
from importlib import resources
from typing import Any, Final

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.errors import HeadwaterError

MAGIC: Final = b"\xc3\x01"
_HEADER = struct.Struct("<2sQ")  # the fingerprint is little-endian, per the Avro spec


class RecordError(HeadwaterError):
    """A Kafka record that is not a single-object Avro record of the expected schema."""


class AvroCodec:
    """Encodes and decodes one record type."""

    def __init__(self, name: str) -> None:
        raw = json.loads(resources.files("schemas").joinpath("avro", f"{name}.avsc").read_text())
        self.name = name
        self.schema = fastavro.parse_schema(raw)
        self.fingerprint = int(fingerprint(to_parsing_canonical_form(self.schema), "CRC-64-AVRO"), 16)
        self._header = _HEADER.pack(MAGIC, self.fingerprint)

    def encode(self, record: dict[str, Any]) -> bytes:
        """One record as bytes, header included."""
        out = io.BytesIO()
        out.write(self._header)
        fastavro.schemaless_writer(out, self.schema, record)
        return out.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        """The record in ``data``; RecordError if it is not one of ours."""
        if len(data) < _HEADER.size:
            raise RecordError(f"{self.name}: record of {len(data)} bytes is shorter than its header")
        magic, fp = _HEADER.unpack_from(data)
        if magic != MAGIC or fp != self.fingerprint:
            raise RecordError(f"{self.name}: unknown schema fingerprint {fp:016x}")
        try:
            record = fastavro.schemaless_reader(
                io.BytesIO(memoryview(data)[_HEADER.size :]), self.schema, None
            )
        except (EOFError, ValueError, UnicodeDecodeError, IndexError) as exc:
            raise RecordError(f"{self.name}: undecodable record: {exc}") from exc
        if not isinstance(record, dict):
            raise RecordError(f"{self.name}: the record is not an Avro record")
        return record


@cache
def codec(name: str) -> AvroCodec:
    """The codec of ``avro/<name>.avsc``, parsed once."""
    return AvroCodec(name)


def ingest_batches() -> AvroCodec:
    """Codec of ``hw.ingest`` records: a batch of validated readings."""
    return codec("ingest_batch")


def dead_letters() -> AvroCodec:
    """Codec of ``hw.dlq`` records: refused device messages with a reason."""
    return codec("dead_letter")


def device_events() -> AvroCodec:
    """Codec of ``hw.device-events`` records."""
    return codec("device_event")


def registry_changes() -> AvroCodec:
    """Codec of ``hw.registry`` records."""
    return codec("registry_change")


def trigger_events() -> AvroCodec:
    """Codec of ``hw.trigger-events`` records: fired triggers awaiting delivery."""
    return codec("trigger_event")


def downlinks() -> AvroCodec:
    """Codec of ``hw.downlink`` records: values for devices on server-owned interfaces."""
    return codec("downlink")
