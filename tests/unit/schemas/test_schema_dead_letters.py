"""Dead letters of unstorable readings: the payload a device would have sent, stable ids, topic parts."""

from __future__ import annotations

import bson
from bson.codec_options import CodecOptions, DatetimeConversion

from schemas.dead_letters import letter_id, reading_payload, topic_parts, worker_letter
from tests.helpers import reading

T0 = 1_700_000_000_000_000
_MS = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_MS)


def test_the_payload_is_astarte_bson_with_the_explicit_time() -> None:
    doc = bson.decode(reading_payload(reading("d", "/a/value", 1.5, T0)), _MS)
    assert doc["v"] == 1.5 and int(doc["t"]) == T0 // 1000
    received = {**reading("d", "/a/value", 2.0, T0), "reception_timestamp": T0}
    assert set(bson.decode(reading_payload(received))) == {"v"}


def test_a_value_of_the_wrong_type_is_kept_as_it_is() -> None:
    doc = bson.decode(reading_payload(reading("d", "/a/value", "oops", T0)))
    assert doc["v"] == "oops"


def test_the_same_letter_has_the_same_id() -> None:
    letter = worker_letter(reading("d", "/a/value", 1.5, T0), "store_refused", "no")
    assert letter["topic"] == "acme/d/org.acme.Temperature/a/value"
    assert letter_id(letter) == letter_id(dict(letter)) < 2**63
    assert letter_id({**letter, "detail": "other"}) != letter_id(letter)


def test_topic_parts() -> None:
    assert topic_parts("acme/d/org.acme.T/a/b", "acme", "d") == ("org.acme.T", "/a/b")
    assert topic_parts("acme/d/control/emptyCache", "acme", "d") == ("", "")
    assert topic_parts("acme/d", "acme", "d") == ("", "")
    assert topic_parts("acme/other/org.acme.T/a", "acme", "d") == ("", "")
    assert topic_parts("x/y", None, None) == ("", "")
