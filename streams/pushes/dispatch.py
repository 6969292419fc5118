"""Sending a fired trigger as a WeChat subscribe message, recorded once per trigger id.

The ledger decides; the sender is a port (the real adapter is `api.wechat.client.WeChatClient`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from api.domain.errors import WeChatUnavailable
from api.wechat.client import WeChatApiError
from ingestion.contract.event import PSEUDONYM_PREFIX
from streams.pushes.recipients import RecipientDirectory, RecipientErased

SENDING = "sending"
SENT = "sent"
FAILED = "failed"
# Worth another try later: WeChat busy or unreachable, or the minute quota.
RETRYABLE_ERRCODES = frozenset({-1, 45009, 45011})


class SubscribeSender(Protocol):
    def send_subscribe_message(
        self, *, openid: str, template_id: str, data: dict[str, str], page: str | None = None
    ) -> None: ...


def ledger_action(entry: Mapping[str, Any] | None) -> str:
    """What to do with a trigger given its ledger entry: send, skip (already decided) or give_up.

    A trigger found "sending" was interrupted between claim and result by a crash: WeChat has no
    idempotency key, so it is recorded as failed rather than risking a second message.
    """
    if entry is None:
        return "send"
    if entry.get("status") == SENDING:
        return "give_up"
    return "skip"


def recipient_openid(trigger: Mapping[str, Any], recipients: RecipientDirectory | None) -> str | None:
    """The real openid to address: the order core's answer by user id, else the event's openid unless it
    is a pseudonym (events that passed the collector carry only pseudonyms). RecipientErased when the order core
    says she erased her account: then not even the event's openid may be used."""
    user_id = trigger.get("user_id")
    if recipients is not None and user_id:
        known = recipients.openid_for(str(user_id))
        if known:
            return known
    openid = trigger.get("openid")
    if not openid or str(openid).startswith(PSEUDONYM_PREFIX):
        return None
    return str(openid)


def send_trigger(
    sender: SubscribeSender, trigger: Mapping[str, Any], recipients: RecipientDirectory | None = None
) -> dict[str, Any]:
    """Send one trigger and describe the result (status, errcode) for the ledger and the pushes topic."""
    try:
        openid = recipient_openid(trigger, recipients)
    except RecipientErased:
        return {"status": FAILED, "errcode": None, "reason": "recipient_erased"}
    if not openid:
        return {"status": FAILED, "errcode": None, "reason": "no_openid"}
    try:
        sender.send_subscribe_message(
            openid=str(openid),
            template_id=str(trigger["template_id"]),
            data=dict(trigger.get("data") or {}),
            page=trigger.get("page"),
        )
    except WeChatApiError as error:
        reason = "no_subscribe_quota" if error.errcode == 43101 else error.errmsg
        return {
            "status": FAILED,
            "errcode": error.errcode,
            "reason": reason,
            "retryable": error.errcode in RETRYABLE_ERRCODES,
        }
    except WeChatUnavailable as error:
        return {"status": FAILED, "errcode": None, "reason": str(error), "retryable": True}
    return {"status": SENT, "errcode": 0, "reason": ""}
