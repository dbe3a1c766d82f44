"""TriggerEvent records: built from readings and device events, encoded, and rendered as Astarte's body."""

from __future__ import annotations

import chevron

from schemas.records import trigger_events
from schemas.trigger_records import (
    ENQUEUED_AT,
    REASON,
    data_record,
    device_record,
    event_body,
    public_record,
    template_values,
)

READING = {
    "realm": "acme",
    "device_id": "dev",
    "interface": "org.acme.Hot",
    "major": 1,
    "path": "/value",
    "value_type": "binaryblob",
    "value": b"\x01\x02",
    "timestamp": 1_700_000_000_000_000,
    "reception_timestamp": 1_700_000_000_000_000,
}


def test_a_value_change_body_survives_the_codec() -> None:
    record = data_record(
        event_id="b/0/t",
        realm="acme",
        trigger_name="t",
        policy=None,
        event_type="value_change",
        reading=READING,
        previous_value=b"\x00",
        now_us=5,
    )

    decoded = trigger_events().decode(trigger_events().encode(record))

    assert event_body(decoded) == {
        "timestamp": "2023-11-14T22:13:20.000Z",
        "device_id": "dev",
        "trigger_name": "t",
        "event": {
            "type": "value_change",
            "interface": "org.acme.Hot",
            "path": "/value",
            "old_value": "AA==",
            "new_value": "AQI=",
        },
    }
    assert decoded["fields"][ENQUEUED_AT] == "5" and decoded["value"] == b"\x01\x02"


def test_a_device_error_body_and_replay_drops_the_bookkeeping() -> None:
    event = {
        "timestamp": 1_000,
        "realm": "acme",
        "device_id": "dev",
        "type": "device_error",
        "ip_address": None,
        "error_name": "invalid_path",
        "metadata": {"topic": "acme/dev/x"},
    }
    record = device_record(
        event_id="e", realm="acme", trigger_name="err", policy="p", device_event_record=event, now_us=7
    )
    dead = {**record, "fields": {**record["fields"], REASON: "HTTP 500: retries exhausted"}}

    replayed = public_record(dead, now_us=9)

    assert event_body(dead)["event"] == {
        "type": "device_error",
        "error_name": "invalid_path",
        "metadata": {"topic": "acme/dev/x"},
    }
    assert REASON not in replayed["fields"] and replayed["fields"][ENQUEUED_AT] == "9"
    assert record["policy"] == "p" and record["interface"] is None


def test_a_mustache_template_sees_astartes_variables_at_the_top_level() -> None:
    record = data_record(
        event_id="b/0/t",
        realm="acme",
        trigger_name="hot",
        policy=None,
        event_type="incoming_data",
        reading={**READING, "value_type": "double", "value": 33.5},
        previous_value=None,
        now_us=5,
    )
    template = "{{realm}}/{{device_id}} {{trigger_name}} {{event_type}}: {{interface}}{{path}} = {{value}}"

    rendered = chevron.render(template, template_values(record))

    assert rendered == "acme/dev hot incoming_data: org.acme.Hot/value = 33.5"
    assert template_values(record)["event"]["value"] == 33.5  # the delivered JSON's shape stays too
