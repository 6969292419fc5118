"""PIPL at the edge: WeChat identifiers and phone numbers are replaced by keyed pseudonyms before Kafka.

The pseudonym is HMAC-SHA256 under a secret key, so the same openid always maps to the same value
(joins and counts still work) while nobody without the key can recover or even test a guess.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Any

from ingestion.contract.event import PSEUDONYM_PREFIX, TrackedEvent

# Where clients put personal identifiers: the SDK's context.wechat, identify traits, event properties.
_CONTEXT_WECHAT_KEYS = ("openid", "unionid")
_DOCUMENT_KEYS = frozenset(
    ("openid", "unionid", "phone", "phone_number", "mobile", "phoneNumber", "purePhoneNumber")
)


def _may_hold_identifiers(event: TrackedEvent) -> bool:
    """Cheap pre-check on the hot path: most events carry no personal identifier at all."""
    context = event.context
    wechat = context.get("wechat")
    return (
        (isinstance(wechat, dict) and bool(wechat.get("openid") or wechat.get("unionid")))
        or "traits" in context
        or not _DOCUMENT_KEYS.isdisjoint(event.traits)
        or not _DOCUMENT_KEYS.isdisjoint(event.properties)
    )


class Pseudonymiser:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonymisation key must be at least 16 bytes")
        self._key = key

    def pseudonym(self, value: str) -> str:
        if value.startswith(PSEUDONYM_PREFIX):
            return value  # already pseudonymised (a replayed dead letter, a re-sent event)
        digest = hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()
        return PSEUDONYM_PREFIX + digest[:40]

    def _document(self, document: dict[str, Any]) -> dict[str, Any]:
        if _DOCUMENT_KEYS.isdisjoint(document):
            return document
        return {
            key: self.pseudonym(str(value)) if key in _DOCUMENT_KEYS and value not in (None, "") else value
            for key, value in document.items()
        }

    def apply(self, event: TrackedEvent) -> TrackedEvent:
        """The event with every known personal identifier replaced by its pseudonym (the same event if none)."""
        if not _may_hold_identifiers(event):
            return event
        context = event.context
        wechat = context.get("wechat")
        if isinstance(wechat, dict) and any(wechat.get(key) for key in _CONTEXT_WECHAT_KEYS):
            wechat = {
                key: self.pseudonym(str(value)) if key in _CONTEXT_WECHAT_KEYS and value else value
                for key, value in wechat.items()
            }
            context = {**context, "wechat": wechat}
        traits = context.get("traits")
        if isinstance(traits, dict):
            context = {**context, "traits": self._document(traits)}
        return dataclasses.replace(
            event,
            context=context,
            traits=self._document(event.traits),
            properties=self._document(event.properties),
        )
