"""Capped exponential backoff, shared by the camera and the MPD connection."""

from __future__ import annotations

import time
from typing import Callable


class Backoff:
    """After each failure the next attempt waits 1x, 2x, 4x ... ``first_s``, at most ``max_s``.

    >>> backoff = Backoff(1.0, 60.0)
    >>> backoff.failed()   # wait 1 s before the next attempt
    1.0
    """

    def __init__(self, first_s: float, max_s: float, clock: Callable[[], float] = time.monotonic):
        self._first_s, self._max_s, self._clock = first_s, max_s, clock
        self.delay_s = first_s
        self._retry_at = float("-inf")

    def due(self) -> bool:
        """Whether an attempt may be made now."""
        return self._clock() >= self._retry_at

    def postpone(self) -> None:
        """No attempt before the current delay has passed (the delay does not grow)."""
        self._retry_at = self._clock() + self.delay_s

    def failed(self) -> float:
        """An attempt failed: postpone the next one and double the delay after it; returns this wait."""
        delay = self.delay_s
        self.postpone()
        self.delay_s = min(delay * 2, self._max_s)
        return delay

    def succeeded(self) -> None:
        self.delay_s = self._first_s

    def retry_now(self) -> None:
        """Allow an attempt at once, e.g. after a privacy pause ends or a connection just dropped."""
        self._retry_at = float("-inf")
