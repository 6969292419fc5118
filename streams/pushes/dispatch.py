"""Sending a fired trigger as a WeChat subscribe message, recorded once per trigger id.

The ledger decides; the sender is a port (the real adapter is `api.wechat.client.WeChatClient`).
`deliver_trigger` orders the writes around a send so that a crash at any point neither sends twice nor
leaves a trigger without its record on the pushes topic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
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


def push_record(trigger: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
    """The record of one push on `shoploop.streams.pushes`: the trigger's identity and its result."""
    return {
        "trigger_id": trigger["trigger_id"],
        "rule_id": trigger["rule_id"],
        "rule_version": trigger["rule_version"],
        "person_id": trigger["person_id"],
        "template_id": trigger["template_id"],
        "due_at": trigger["due_at"],
        "fired_at": trigger["fired_at"],
        **result,
    }


async def deliver_trigger(
    trigger: Mapping[str, Any],
    *,
    ledger: MutableMapping[str, Any],
    make_ledger_durable: Callable[[], Awaitable[None]],
    publish_record: Callable[[dict[str, Any]], Awaitable[None]],
    sender: SubscribeSender,
    recipients: RecipientDirectory | None = None,
) -> dict[str, Any] | None:
    """Send one fired trigger at most once and publish its record; the result, or None when there was
    nothing to do (not a send, or already decided).

    The order is what makes a crash safe: the claim ("sending") is durable before WeChat is asked, so a
    restart never asks twice; the record is on the broker (`publish_record` returns once it is acknowledged)
    before the ledger says the trigger is done, so a restart never skips a trigger whose record was lost. A
    crash between the two leaves "sending": the redelivered trigger is then recorded `interrupted` too, a
    failed result the lake's push rows leave out (`streams.sink.pushes.push_row`), so the send still counts.
    """
    if trigger.get("outcome") != "send" or not trigger.get("template_id"):
        return None
    trigger_id = trigger["trigger_id"]
    action = ledger_action(ledger.get(trigger_id))
    if action == "skip":
        return None
    if action == "give_up":
        result: dict[str, Any] = {"status": FAILED, "errcode": None, "reason": "interrupted"}
    else:
        ledger[trigger_id] = {"status": SENDING}
        await make_ledger_durable()
        result = await asyncio.to_thread(send_trigger, sender, trigger, recipients)
    await publish_record(push_record(trigger, result))
    ledger[trigger_id] = result
    return result
