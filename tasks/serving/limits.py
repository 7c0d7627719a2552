"""A per-client token bucket: ``requests_per_second`` sustained, ``burst`` at once; 429 + Retry-After beyond."""

from __future__ import annotations

import math
import threading
import time


class RateLimiter:
    def __init__(self, per_second: float, burst: int, max_clients: int = 10_000) -> None:
        self.rate, self.burst, self.max_clients = per_second, burst, max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last refill time)
        self._lock = threading.Lock()

    def acquire(self, client: str, now: float | None = None) -> float:
        """0 if the request may go on, else the seconds to wait before the next one would be accepted."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._set(client, tokens - 1.0, now)
                return 0.0
            self._set(client, tokens, now)
            return (1.0 - tokens) / self.rate

    def _set(self, client: str, tokens: float, now: float) -> None:
        if client not in self._buckets and len(self._buckets) >= self.max_clients:
            self._buckets.pop(next(iter(self._buckets)))  # forget the oldest client, not the newest
        self._buckets[client] = (tokens, now)


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
