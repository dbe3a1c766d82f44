"""Dead letters in ClickHouse: rows of ``hw.dlq`` records, read back newest first, marked when replayed.

A record of ``hw.dlq`` (``schemas/avro/dead_letter.avsc``) becomes one row of
``dead_letters`` (migration 6). Its id is a hash of the record, so a redelivered record is
the same row; a replay writes the row again with ``replayed_at`` set, and that version wins.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.store.migrations import DEAD_LETTER_COLUMNS
from pipeline.store.readings import iso_time
from schemas.dead_letters import letter_id, topic_parts

if TYPE_CHECKING:
    from pipeline.store.clickhouse import ClickHouseStore

MAX_LETTERS = 10_000


@dataclass(frozen=True, slots=True)
class StoredLetter:
    """One stored dead letter; times in microseconds since the epoch (``replayed_at`` 0 if never)."""

    letter_id: int
    realm: str
    device_id: str
    received_at: int
    source: str
    topic: str
    interface: str
    path: str
    qos: int
    reason: str
    detail: str
    payload: bytes
    replayed_at: int = 0
    ttl_seconds: int = 0

    def to_json(self) -> dict[str, Any]:
        """The API's form: the payload in base64, and as text too when it is UTF-8 (a JSON payload)."""
        try:
            text: str | None = self.payload.decode()
        except UnicodeDecodeError:
            text = None
        if text is not None and not text.isprintable() and text.strip():
            text = None  # BSON that happens to be valid UTF-8 is not text
        return {
            "id": str(self.letter_id),
            "received_at": iso_time(self.received_at),
            "device_id": self.device_id or None,
            "interface": self.interface or None,
            "path": self.path or None,
            "topic": self.topic,
            "qos": self.qos,
            "reason": self.reason,
            "detail": self.detail,
            "source": self.source,
            "payload": base64.b64encode(self.payload).decode(),
            "payload_text": text,
            "replayed_at": iso_time(self.replayed_at) if self.replayed_at else None,
        }


def letter_columns(records: list[dict[str, Any]], ttl_seconds: int = 0) -> list[list[Any]]:
    """Column lists in ``DEAD_LETTER_COLUMNS`` order; every row lives ``ttl_seconds`` (0: for ever)."""
    parts = [topic_parts(r["topic"], r.get("realm"), r.get("device_id")) for r in records]
    columns = [
        [r.get("realm") or "" for r in records],
        [r.get("device_id") or "" for r in records],
        [r["received_at"] for r in records],
        [letter_id(r) for r in records],
        [r["broker_id"] for r in records],
        [r["topic"] for r in records],
        [interface for interface, _ in parts],
        [path for _, path in parts],
        [min(max(r["qos"], 0), 2) for r in records],
        [r["reason"] for r in records],
        [r["detail"] for r in records],
        [r["payload"] for r in records],
        [0] * len(records),
        [ttl_seconds] * len(records),
    ]
    assert len(columns) == len(DEAD_LETTER_COLUMNS)
    return columns


_SELECT = (
    "SELECT letter_id, realm, device_id, toUnixTimestamp64Micro(received_at), source, topic, interface, "
    "path, qos, reason, detail, base64Encode(payload), toUnixTimestamp64Micro(replayed_at), ttl_seconds "
    "FROM {db}.dead_letters FINAL"
)


async def recent_letters(
    store: ClickHouseStore,
    *,
    realm: str,
    device_id: str | None = None,
    since: int | None = None,
    ids: list[int] | None = None,
    limit: int = 100,
) -> list[StoredLetter]:
    """A realm's dead letters, newest first: of one device, received at or after ``since``, or by id."""
    params: dict[str, Any] = {"realm": realm, "limit": max(1, min(limit, MAX_LETTERS))}
    where = ["realm = {realm:String}"]
    if device_id is not None:
        where.append("device_id = {device:String}")
        params["device"] = device_id
    if since is not None:
        where.append("received_at >= fromUnixTimestamp64Micro({since:Int64}, 'UTC')")
        params["since"] = since
    if ids is not None:
        where.append("letter_id IN {ids:Array(UInt64)}")
        params["ids"] = ids
    sql = (
        f"{_SELECT} WHERE {' AND '.join(where)} "
        "ORDER BY received_at DESC, letter_id DESC LIMIT {limit:UInt32}"
    )
    rows = await store.query(sql, params)
    return [
        StoredLetter(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            row[6],
            row[7],
            row[8],
            row[9],
            row[10],
            base64.b64decode(row[11]),
            row[12],
            row[13],
        )
        for row in rows
    ]


async def mark_replayed(store: ClickHouseStore, letters: list[StoredLetter]) -> None:
    """Write the letters again with ``replayed_at`` now, which FINAL then reads."""
    if not letters:
        return
    now = time.time_ns() // 1000
    rows = [
        [
            x.realm,
            x.device_id,
            x.received_at,
            x.letter_id,
            x.source,
            x.topic,
            x.interface,
            x.path,
            x.qos,
            x.reason,
            x.detail,
            x.payload,
            now,
            x.ttl_seconds,
        ]
        for x in letters
    ]
    await store.insert_dead_letters([list(column) for column in zip(*rows, strict=True)])
