"""A token bucket per write key: a source that sends faster than its configured rate gets 429 and Retry-After."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate_per_s: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    _tokens: float = field(init=False)
    _updated_at: float = field(init=False)

    def __post_init__(self) -> None:
        self._tokens = self.burst
        self._updated_at = self.clock()

    def take(self, amount: float = 1.0) -> float:
        """Take `amount` tokens; returns 0 on success, else the seconds to wait before it would succeed."""
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated_at) * self.rate_per_s)
        self._updated_at = now
        if self._tokens >= amount:
            self._tokens -= amount
            return 0.0
        return (amount - self._tokens) / self.rate_per_s


class RateLimiter:
    """Requests per second per source; sources without a configured rate use the default."""

    def __init__(
        self,
        default_per_s: float,
        per_source: dict[str, float],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._default_per_s = default_per_s
        self._per_source = per_source
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def retry_after_s(self, source: str) -> int:
        """0 when the request may proceed, else whole seconds the client should wait (Retry-After)."""
        bucket = self._buckets.get(source)
        if bucket is None:
            rate = self._per_source.get(source, self._default_per_s)
            bucket = self._buckets[source] = TokenBucket(rate, burst=max(1.0, rate), clock=self._clock)
        wait = bucket.take()
        return 0 if wait == 0 else max(1, math.ceil(wait))
