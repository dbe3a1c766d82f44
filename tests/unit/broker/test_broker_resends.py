"""A resent PUBLISH keeps its first attempt's reading id and reception time."""

from __future__ import annotations

from types import SimpleNamespace

from broker.resends import REMEMBERED, FirstSeen, first_seen, reading_id


def test_every_attempt_of_a_publish_gets_the_same_id_and_others_differ() -> None:
    assert reading_id(7, b"payload") == reading_id(7, b"payload")
    assert reading_id(7, b"payload") != reading_id(8, b"payload")
    assert reading_id(7, b"payload") != reading_id(7, b"other")
    assert reading_id(65535, b"\xff" * 64) < 2**63  # an Avro long, a ClickHouse UInt64


def test_a_resend_keeps_the_first_reception_and_a_new_publish_takes_its_own() -> None:
    seen = FirstSeen()

    assert seen.received(7, dup=False, now=100) == 100
    assert seen.received(7, dup=True, now=200) == 100
    assert seen.received(7, dup=False, now=300) == 300  # the packet id was reused for a new message
    assert seen.received(8, dup=True, now=400) == 400  # a resend whose first attempt this session missed
    assert seen.received(8, dup=True, now=500) == 400


def test_only_the_last_packet_ids_are_remembered() -> None:
    seen = FirstSeen()
    for packet_id in range(3 * REMEMBERED):
        seen.received(packet_id, dup=False, now=packet_id)

    assert seen.received(0, dup=True, now=-1) == -1
    newest = [seen.received(p, dup=True, now=-1) for p in range(2 * REMEMBERED, 3 * REMEMBERED)]
    assert newest == list(range(2 * REMEMBERED, 3 * REMEMBERED))


def test_the_memory_belongs_to_the_session() -> None:
    session = SimpleNamespace()

    assert first_seen(session) is first_seen(session)
    assert first_seen(session) is not first_seen(SimpleNamespace())
