"""Stopping ``headwater up`` first lets the worker store what Tansu holds: nothing PUBACKed is lost."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.e2e import killrun
from tests.e2e.conftest import start_up

DEVICES = 4
PER_DEVICE = 2_000


def test_every_pubacked_value_is_stored_when_up_stops_right_after(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_up(data_dir)
    try:
        realm, registered = killrun.register(first, DEVICES)
        worker = killrun.child(first, "worker")
        worker.send_signal(signal.SIGSTOP)  # Tansu holds every value PUBACKed from here on
        fleet = [killrun.Device(first, realm, d, s, i) for i, (d, s) in enumerate(registered)]
        for i in range(PER_DEVICE):
            for device in fleet:
                while device.in_flight() >= killrun.WINDOW:
                    time.sleep(0.001)
                device.publish(i, PER_DEVICE)
        deadline = time.monotonic() + 120
        while sum(d.acked for d in fleet) < DEVICES * PER_DEVICE:
            assert time.monotonic() < deadline, "every value PUBACKed"
            time.sleep(0.01)
        for device in fleet:
            device.close()
        worker.send_signal(signal.SIGCONT)
    finally:
        code = first.stop()  # at once: the values are still only in Tansu's memory
    assert code == 0

    second = start_up(data_dir)
    try:
        rows, values = killrun.stored(second, realm)
    finally:
        second.stop()

    assert (rows, values) == (DEVICES * PER_DEVICE, DEVICES * PER_DEVICE)
