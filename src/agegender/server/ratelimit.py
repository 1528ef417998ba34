"""An in-memory token bucket per client IP (one process; not shared between workers)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

#: Above this many tracked clients, buckets that are full again are forgotten.
_PRUNE_ABOVE = 10_000


class RateLimiter:
    """``per_minute`` requests per minute per key, with bursts of up to a minute's worth.

    Each key has a bucket of ``per_minute`` tokens that refills continuously at
    ``per_minute / 60`` tokens per second; a request takes one token. ``per_minute=0``
    turns limiting off.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)
        self._lock = threading.Lock()

    def acquire(self, key: str) -> int:
        """Take a token for ``key``: 0 when allowed, else the seconds to wait (>= 1)."""
        if self.capacity <= 0:
            return 0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > _PRUNE_ABOVE:
                    self._prune(now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.rate))

    def _prune(self, now: float) -> None:
        full = [
            k
            for k, (t, last) in self._buckets.items()
            if t + (now - last) * self.rate >= self.capacity
        ]
        for k in full:
            del self._buckets[k]
