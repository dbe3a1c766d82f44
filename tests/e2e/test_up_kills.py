"""Kill test: devices publish while the broker is SIGKILLed once and the worker twice; nothing is lost."""

from __future__ import annotations

from pathlib import Path

from tests.e2e import killrun
from tests.e2e.conftest import start_up

DEVICES = 5
PER_DEVICE = 2_000


def test_every_pubacked_value_is_stored_exactly_once_through_kills(tmp_path: Path) -> None:
    running = start_up(tmp_path / "data")
    try:
        figures = killrun.run(running, devices=DEVICES, per_device=PER_DEVICE, settle=90)
    finally:
        code = running.stop()
    print("\n".join(figures.lines()))

    total = DEVICES * PER_DEVICE
    assert figures.pubacked == total
    assert (figures.stored_rows, figures.stored_values) == (total, total), figures.lines()
    assert figures.restart_lines["broker"] >= 1 and figures.restart_lines["worker"] >= 2
    assert figures.restarts.get("broker", 0) >= 1 and figures.restarts.get("worker", 0) >= 2
    assert code == 0
