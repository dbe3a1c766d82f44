"""Restart delays double while a process keeps failing and start over once it ran long enough."""

from __future__ import annotations

from pipeline.backoff import Backoff


def test_delays_double_up_to_the_maximum() -> None:
    backoff = Backoff(initial=0.5, maximum=4.0, stable_after=60.0)

    assert [backoff.after_stop(1.0) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_process_that_ran_long_enough_starts_over() -> None:
    backoff = Backoff(initial=0.5, maximum=30.0, stable_after=60.0)
    for _ in range(4):
        backoff.after_stop(1.0)

    assert backoff.after_stop(61.0) == 0.5
    assert backoff.after_stop(1.0) == 1.0
