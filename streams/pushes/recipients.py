"""Who a subscribe message goes to: the real openid, which only the order core holds.

Events reach the streams with openids pseudonymised at the collector (PIPL), so the push sender asks the
order core for the one recipient it is about to message, by user id, and forgets it after a while.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

import httpx
import structlog

log = structlog.get_logger(__name__)


class RecipientDirectory(Protocol):
    def openid_for(self, user_id: str) -> str | None:
        """The shopper's real openid, or None when the directory does not know them or cannot answer."""


class OrderCoreRecipients:
    """The order core's internal recipients endpoint, with a small time-limited cache."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 3.0,
        cache_ttl_s: float = 600.0,
        cache_size: int = 10_000,
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url, timeout=timeout_s, headers={"Authorization": f"Bearer {token}"}
        )
        self._ttl_s = cache_ttl_s
        self._size = cache_size
        self._cache: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def openid_for(self, user_id: str) -> str | None:
        cached = self._cache.get(user_id)
        if cached and time.monotonic() - cached[0] < self._ttl_s:
            return cached[1]
        try:
            response = self._client.get(f"/internal/v1/recipients/{user_id}")
        except httpx.HTTPError as error:
            log.warning("recipient_lookup_failed", user_id=user_id, error=repr(error))
            return None
        if response.status_code != 200:
            if response.status_code != 404:
                log.warning("recipient_lookup_refused", user_id=user_id, status=response.status_code)
            return None
        openid = str(response.json()["openid"])
        self._cache[user_id] = (time.monotonic(), openid)
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return openid
