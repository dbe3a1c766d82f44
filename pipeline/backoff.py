"""When to restart a process that stopped: a delay that doubles while it keeps failing (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    """Restart delays for one process: ``initial``, doubling up to ``maximum``.

    A process that ran at least ``stable_after`` seconds before it stopped starts
    again from ``initial``, so one crash a day never waits as long as a crash loop.
    """

    initial: float = 0.5
    maximum: float = 30.0
    stable_after: float = 60.0
    _next: float = 0.0

    def after_stop(self, ran_for: float) -> float:
        """The delay before the next start of a process that stopped after ``ran_for`` seconds."""
        if ran_for >= self.stable_after or self._next == 0.0:
            self._next = self.initial
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay
