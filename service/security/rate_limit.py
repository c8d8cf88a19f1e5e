"""Per-key rate limit (a token bucket per API key, or per client address for anonymous callers).

In-process: each worker keeps its own buckets, so N workers admit up to N times the rate. That is the
honest scope of a single-node limit; a shared limit would need a shared store.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from fastapi import Request

from service.auth.principal import Principal
from service.errors import TooManyRequests

MAX_BUCKETS = 100_000  # beyond this, full buckets are forgotten (they would allow a burst anyway)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(burst, 1))
        self.enabled = per_minute > 0
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()  # sync page routes run in the thread pool
        self._now = time.monotonic

    def take(self, who: str, cost: float = 1.0) -> float:
        """0 when a request of ``cost`` tokens is admitted, else the seconds until it would be."""
        if not self.enabled:
            return 0.0
        now = self._now()
        with self._lock:
            bucket = self._buckets.get(who)
            if bucket is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._forget_full(now)
                bucket = self._buckets[who] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            cost = min(cost, self.burst)  # a request bigger than the burst waits for a full bucket
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return 0.0
            return (cost - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.stamp) * self.rate >= self.burst]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= MAX_BUCKETS:  # all busy: start afresh rather than grow without bound
            self._buckets.clear()


def caller_id(request: Request) -> str:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None and principal.key_id:
        return f"key:{principal.key_id}"
    return f"ip:{request.client.host if request.client else '?'}"


def charge(request: Request, cost: float = 1.0) -> None:
    """Count ``cost`` suggestions against the caller; 429 with Retry-After past their rate."""
    limiter: RateLimiter = request.app.state.suggest_limiter
    wait = limiter.take(caller_id(request), cost)
    if wait > 0:
        raise TooManyRequests(
            f"More than {round(limiter.rate * 60)} suggestions per minute for this key; "
            f"retry in {math.ceil(wait)} s",
            retry_after=math.ceil(wait),
        )


async def suggest_quota(request: Request) -> None:
    """A route dependency, listed after the Access policy (which names the caller)."""
    charge(request)
