"""The push agent: fired triggers in, WeChat subscribe messages out, every send recorded once.

The ledger table (trigger id → status) is written before and after each send; a replayed or redelivered
trigger finds its entry and is not sent again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from typing import Any

import faust
import orjson
import structlog

from shoploop.kafka import Topics
from streams.pushes.dispatch import FAILED, SENDING, SubscribeSender, ledger_action, send_trigger
from streams.pushes.recipients import RecipientDirectory

log = structlog.get_logger(__name__)


def register_pushes(
    app: faust.App,
    *,
    sender: SubscribeSender,
    batch_size: int,
    flush_s: float,
    recipients: RecipientDirectory | None = None,
) -> faust.types.AgentT[Any]:
    triggers = app.topic(Topics.TRIGGERS.name, key_type=bytes, value_type=bytes, value_serializer="raw")
    pushes = app.topic(Topics.PUSHES.name, key_type=bytes, value_type=bytes, value_serializer="raw")
    ledger = app.Table(
        "streams-push-ledger", default=None, use_partitioner=True, partitions=app.conf.topic_partitions
    )

    async def record(trigger: dict[str, Any], result: dict[str, Any]) -> None:
        ledger[trigger["trigger_id"]] = result
        await pushes.send(
            key=trigger["trigger_id"].encode(),
            value=orjson.dumps(
                {
                    "trigger_id": trigger["trigger_id"],
                    "rule_id": trigger["rule_id"],
                    "rule_version": trigger["rule_version"],
                    "person_id": trigger["person_id"],
                    "template_id": trigger["template_id"],
                    "due_at": trigger["due_at"],
                    "fired_at": trigger["fired_at"],
                    **result,
                }
            ),
        )

    async def push(stream: AsyncIterable[bytes]) -> None:
        async for values in stream.take(batch_size, within=flush_s):  # type: ignore[attr-defined]
            for value in values:
                trigger = orjson.loads(value)
                if trigger.get("outcome") != "send" or not trigger.get("template_id"):
                    continue
                action = ledger_action(ledger.get(trigger["trigger_id"]))
                if action == "skip":
                    continue
                if action == "give_up":
                    await record(trigger, {"status": FAILED, "errcode": None, "reason": "interrupted"})
                    continue
                ledger[trigger["trigger_id"]] = {"status": SENDING}
                # The changelog must hold the claim before WeChat is asked, or a crash could send twice.
                await app.producer.flush()
                result = await asyncio.to_thread(send_trigger, sender, trigger, recipients)
                await record(trigger, result)

    return app.agent(triggers, name="pushes")(push)
