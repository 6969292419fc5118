"""The push agent: fired triggers in, WeChat subscribe messages out, every send recorded once.

The ledger table (trigger id → status) is written before and after each send; a replayed or redelivered
trigger finds its entry and is not sent again. The order of the writes is `deliver_trigger`'s.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any

import faust
import orjson

from shoploop.kafka import Topics
from streams.pushes.dispatch import SubscribeSender, deliver_trigger
from streams.pushes.recipients import RecipientDirectory


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

    async def publish_record(record: dict[str, Any]) -> None:
        delivered = await pushes.send(key=record["trigger_id"].encode(), value=orjson.dumps(record))
        await delivered  # acknowledged by the broker, before the ledger may say the trigger is done

    async def push(stream: AsyncIterable[bytes]) -> None:
        async for values in stream.take(batch_size, within=flush_s):  # type: ignore[attr-defined]
            for value in values:
                await deliver_trigger(
                    orjson.loads(value),
                    ledger=ledger,
                    # The changelog must hold the claim before WeChat is asked, or a crash could send twice.
                    make_ledger_durable=app.producer.flush,
                    publish_record=publish_record,
                    sender=sender,
                    recipients=recipients,
                )

    return app.agent(triggers, name="pushes")(push)
