"""Who a subscribe message goes to: the real openid, which only the order core holds.

Events reach the streams with openids pseudonymised at the collector (PIPL), so the push sender asks the
order core for the one recipient it is about to message, by user id, at the moment it sends — never from a cache:
the order core is the authority on whether she may still be addressed, and once her account is erased (注销, or
`privacy forget`) it answers 410 and the push is recorded as not sent. A cached openid could outlive the
erasure; one lookup (a primary-key read) per subscribe message, which WeChat allows only once per consent, is a
load the order core does not notice.
"""

from __future__ import annotations

from typing import Protocol

import httpx
import structlog

log = structlog.get_logger(__name__)


class RecipientErased(Exception):
    """The shopper erased her account: nothing may be sent to her, whatever openid an event carried."""


class RecipientDirectory(Protocol):
    def openid_for(self, user_id: str) -> str | None:
        """The shopper's real openid, or None when the directory does not know them or cannot answer.

        Raises RecipientErased when the shopper's account was erased."""


class OrderCoreRecipients:
    """The order core's internal recipients endpoint, asked afresh for every push."""

    def __init__(self, base_url: str, token: str, *, timeout_s: float = 3.0) -> None:
        self._client = httpx.Client(
            base_url=base_url, timeout=timeout_s, headers={"Authorization": f"Bearer {token}"}
        )

    def openid_for(self, user_id: str) -> str | None:
        try:
            response = self._client.get(f"/internal/v1/recipients/{user_id}")
        except httpx.HTTPError as error:
            log.warning("recipient_lookup_failed", user_id=user_id, error=repr(error))
            return None
        if response.status_code == 410:
            raise RecipientErased(user_id)
        if response.status_code != 200:
            if response.status_code != 404:
                log.warning("recipient_lookup_refused", user_id=user_id, status=response.status_code)
            return None
        return str(response.json()["openid"])
