"""A token bucket of query cost points per API key.

Each key's bucket holds at most `points_per_minute` points (the burst) and refills at
`points_per_minute / 60` points a second. A request takes its query's estimated cost (at least
one point) from its key's bucket, or is refused when the bucket holds less, with the seconds
until it will hold enough. Keys are independent: one exhausting its budget slows no other.

The buckets live in this process: with several server processes, each has its own buckets and a
key's effective budget is that many times larger. Memory stays bounded: a bucket that has
refilled is the same as no bucket and is dropped, and at most `max_buckets` are kept (beyond
that the least recently used is dropped, which forgets its debt).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """A key's budget after a request: what goes into the RateLimit-* headers."""

    allowed: bool
    limit: int  # points per minute, also the most a bucket holds
    remaining: int  # whole points left
    reset: int  # seconds until the bucket is full again
    retry_after: int  # seconds until a refused request would fit; 0 when allowed

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


@dataclass(slots=True)
class _Bucket:
    points: float
    updated: float


class RateLimiter:
    """Per-key token buckets; `points_per_minute = 0` disables limiting."""

    def __init__(
        self,
        points_per_minute: int,
        *,
        clock: Clock = time.monotonic,
        max_buckets: int = 100_000,
    ):
        if points_per_minute < 0:
            raise ValueError("points_per_minute must be at least 0")
        self.limit = points_per_minute
        self.rate = points_per_minute / 60.0  # points per second
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def charge(self, key: Hashable, points: int) -> RateLimitState:
        """Takes `points` (at least 1; at most a full bucket) from the key's bucket if it holds
        them; otherwise takes nothing and says how long to wait."""
        if not self.enabled:
            return RateLimitState(allowed=True, limit=0, remaining=0, reset=0, retry_after=0)
        cost = min(max(points, 1), self.limit)
        with self._lock:
            now = self.clock()
            bucket = self._buckets.pop(key, None)
            available = self._refilled(bucket, now)
            allowed = available >= cost
            if allowed:
                available -= cost
            if available < self.limit:
                self._buckets[key] = _Bucket(available, now)  # most recently used last
            self._evict(now)
        retry_after = 0 if allowed else _ceil((cost - available) / self.rate)
        return self._state(available, allowed=allowed, retry_after=retry_after)

    def peek(self, key: Hashable) -> RateLimitState:
        """The key's budget now, without taking anything."""
        if not self.enabled:
            return RateLimitState(allowed=True, limit=0, remaining=0, reset=0, retry_after=0)
        with self._lock:
            available = self._refilled(self._buckets.get(key), self.clock())
        return self._state(available, allowed=True, retry_after=0)

    def _refilled(self, bucket: _Bucket | None, now: float) -> float:
        if bucket is None:
            return float(self.limit)
        elapsed = max(now - bucket.updated, 0.0)
        return min(float(self.limit), bucket.points + elapsed * self.rate)

    def _evict(self, now: float) -> None:
        # Oldest first: drop buckets that have refilled (they equal no bucket), then, over the
        # bound, the least recently used ones.
        while self._buckets:
            key, bucket = next(iter(self._buckets.items()))
            if len(self._buckets) <= self.max_buckets and self._refilled(bucket, now) < self.limit:
                break
            del self._buckets[key]

    def _state(self, available: float, *, allowed: bool, retry_after: int) -> RateLimitState:
        return RateLimitState(
            allowed=allowed,
            limit=self.limit,
            remaining=math.floor(available + 1e-9),
            reset=_ceil((self.limit - available) / self.rate),
            retry_after=retry_after,
        )


def _ceil(seconds: float) -> int:
    # Whole seconds, not rounded up by floating-point noise (1/60 of a point per second…).
    return max(math.ceil(seconds - 1e-9), 0)
