"""Fixed-window rate limits per (action, caller), in process memory (one API process per database)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from api.domain.errors import RateLimited


class RateLimiter:
    def __init__(self, *, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._windows: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Count one call for `key`; RateLimited once the minute's allowance is used."""
        window = int(self._clock() // 60)
        with self._lock:
            if len(self._windows) > 100_000:
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
            start, used = self._windows.get(key, (window, 0))
            used = used + 1 if start == window else 1
            self._windows[key] = (window, used)
        if used > self.per_minute:
            raise RateLimited("too many requests; try again in a minute")
