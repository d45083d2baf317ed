"""One back-off rule for every retry loop (watches, event streams, log follows)."""

from __future__ import annotations


class Backoff:
    """Delays that start at ``first`` and grow by ``factor`` up to ``maximum``.

    ``next()`` returns the delay to wait now; ``reset()`` starts over after a
    success, so a long-lived stream that drops once in a while retries fast.
    """

    __slots__ = ("_delay", "factor", "first", "maximum")

    def __init__(self, first: float, maximum: float, factor: float = 2.0) -> None:
        if first <= 0 or maximum < first or factor < 1:
            raise ValueError("Backoff needs 0 < first <= maximum and factor >= 1")
        self.first = first
        self.maximum = maximum
        self.factor = factor
        self._delay = first

    def next(self) -> float:
        delay = self._delay
        self._delay = min(self._delay * self.factor, self.maximum)
        return delay

    def peek(self) -> float:
        return self._delay

    def reset(self) -> None:
        self._delay = self.first
