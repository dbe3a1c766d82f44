"""Drive the official astarte-device-sdk as a device would (run by the SDK's own interpreter).

Usage: python sdk_device.py '<json>' with realm, device_id, secret, pairing_url, persistency_dir,
interfaces_dir and optionally ``receive`` (how many server messages to wait for). It prints
``ready`` once connected; then it sends (or, with ``receive``, collects what the server sends) and
prints one JSON line: what it sent or received, or the error.
"""

import datetime
import json
import sys
import threading
import time
from pathlib import Path

from astarte.device import DeviceMqtt

DATASTREAM = "org.astarte-platform.python.e2etest.DeviceDatastream"
AGGREGATE = "org.astarte-platform.python.e2etest.DeviceAggregate"
PROPERTY = "org.astarte-platform.python.e2etest.DeviceProperty"
MOMENT = datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC)
VALUES = {
    "double": 4.5,
    "integer": -42,
    "boolean": True,
    "longinteger": 2**40 + 3,
    "string": "hello headwater",
    "binaryblob": b"\x00\x01blob",
    "datetime": MOMENT,
    "doublearray": [1.5, -2.25],
    "integerarray": [1, 2, 3],
    "booleanarray": [True, False],
    "longintegerarray": [2**40, -(2**41)],
    "stringarray": ["a", "b"],
    "binaryblobarray": [b"\x01", b"\x02\x03"],
    "datetimearray": [MOMENT, MOMENT],
}


def main() -> None:
    args = json.loads(sys.argv[1])
    device = DeviceMqtt(
        args["device_id"],
        args["realm"],
        args["secret"],
        args["pairing_url"],
        args["persistency_dir"],
        ignore_ssl_errors=False,
    )
    device.add_interfaces_from_dir(Path(args["interfaces_dir"]))
    connected = threading.Event()
    received = []
    done = threading.Event()

    def on_data(_device, interface, path, payload):
        received.append([interface, path, _jsonable(payload), time.time()])
        if len(received) >= args.get("receive", 0):
            done.set()

    disconnected = threading.Event()
    device.set_events_callbacks(
        on_connected=lambda _device: connected.set(),
        on_data_received=on_data,
        on_disconnected=lambda _device, _rc: disconnected.set(),
    )
    device.connect()
    if not connected.wait(20):
        print(json.dumps({"error": "not connected"}), flush=True)
        return
    print("ready", flush=True)
    if args.get("reconnect"):
        device.send(DATASTREAM, "/double_endpoint", 1.0, MOMENT)
        time.sleep(1.0)
        device.disconnect()
        disconnected.wait(10)
        device.remove_interface(AGGREGATE)  # while disconnected
        connected.clear()
        device.connect()
        if not connected.wait(20):
            print(json.dumps({"error": "not reconnected"}), flush=True)
            return
        device.send(DATASTREAM, "/double_endpoint", 2.0, MOMENT + datetime.timedelta(seconds=1))
        time.sleep(2.0)
        device.disconnect()
        print(json.dumps({"sent": 2}), flush=True)
        return
    if args.get("receive"):
        done.wait(20)
        device.disconnect()
        print(json.dumps({"received": received}), flush=True)
        return
    for kind, value in VALUES.items():
        device.send(DATASTREAM, f"/{kind}_endpoint", value, MOMENT)
    device.send_aggregate(AGGREGATE, "/sensor1", {f"{k}_endpoint": v for k, v in VALUES.items()})
    device.send(PROPERTY, "/sensor1/double_endpoint", 7.25)
    time.sleep(2.0)
    device.disconnect()
    time.sleep(0.5)
    print(json.dumps({"sent": len(VALUES) + 2}))


def _jsonable(value):
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, datetime.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


if __name__ == "__main__":
    main()
