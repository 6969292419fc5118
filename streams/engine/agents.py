"""The decisions agent: events, order facts and rules in; triggers, attributions, rewards, flags out.

One agent drives the decision core in batches (Faust's per-message cost is paid once per batch). The state
lives in memory and is checkpointed once per batch into Faust tables (changelogged, so a restarted worker
recovers it): the persons and shares the batch changed, the shop-wide index entries it changed, one row
of the inputs it buffered, and one small row of shop-wide state. The core applies inputs in event-time
order, so the streams role runs as one worker; its tables use the key partitioner and need no
co-partitioning. On start the rule book is read to the end of its compacted topic before any input.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import faust
import orjson
import structlog

from shoploop.kafka import Topics
from streams.automations.rules import InvalidRule, PushPolicy, parse_rule
from streams.engine.core import Engine, Output, PersonState
from streams.ids import stable_id
from streams.inputs import Activity, BadInput, OrderFact, activity_from_json, order_fact_from_json
from streams.referrals.models import ShareNode

log = structlog.get_logger(__name__)

OUTPUT_TOPICS: dict[str, str] = {
    "triggers": Topics.TRIGGERS.name,
    "attributions": Topics.ATTRIBUTIONS.name,
    "rewards": Topics.REWARD_COMMANDS.name,
    "flags": Topics.ACCOUNT_FLAGS.name,
    "shares": Topics.SHARES.name,
    "pushes": Topics.PUSHES.name,
    "dead_letters": Topics.STREAMS_DEAD_LETTER.name,
}


def _share_to_dict(node: ShareNode) -> dict[str, Any]:
    return {**asdict(node), "shared_at": node.shared_at.isoformat()}


def _share_from_dict(data: dict[str, Any]) -> ShareNode:
    return ShareNode(**{**data, "shared_at": datetime.fromisoformat(data["shared_at"])})


def shop_state(engine: Engine) -> dict[str, Any]:
    """The engine's small shop-wide state (rules, clocks, parked payments …), as one JSON-able row.

    What grows with the shop (paid orders, per-user order times, accounts per device, flags) is kept in
    index rows instead, written only when they change.
    """
    return {
        "now": engine.now.isoformat() if engine.now else None,
        "watermark": {p: at.isoformat() for p, at in engine.watermark.latest_by_partition.items()},
        "rules": engine.rules.as_dict(),
        "parked_payments": {
            user: [{**asdict(f), "at": f.at.isoformat()} for f in facts]
            for user, facts in engine.parked_payments.items()
        },
        "sold_out": sorted(engine.sold_out),
        "suppressed": engine.suppressed,
    }


def index_row(engine: Engine, kind: str, key: str) -> dict[str, Any] | None:
    """One changed shop-wide index entry as a table row (None: the entry is gone)."""
    value: Any
    if kind == "paid":
        value = key in engine.paid_order_ids or None
    elif kind == "orders":
        times = engine.orders_by_user.get(key)
        value = [at.isoformat() for at in times] if times else None
    elif kind == "device":
        users = engine.accounts_by_device.get(key)
        value = sorted(users) if users else None
    else:
        user, reason = key.split("\x1f", 1)
        value = (user, reason) in engine.flagged_reasons or None
    return None if value is None else {"kind": kind, "key": key, "value": value}


def restore_engine(
    engine: Engine,
    *,
    shop: dict[str, Any] | None,
    persons: list[dict[str, Any]],
    shares: list[dict[str, Any]],
    index: list[dict[str, Any]],
    pending: list[dict[str, Any]],
) -> None:
    """Rebuild the engine from its table rows after a restart (the order of rows does not matter)."""
    from streams.automations.rules import Rule

    if shop:
        for rule in shop.get("rules", {}).values():
            engine.rules.publish(Rule.model_validate(rule))
        engine.now = datetime.fromisoformat(shop["now"]) if shop.get("now") else None
        for partition, at in shop.get("watermark", {}).items():
            engine.watermark.observe(partition, datetime.fromisoformat(at))
        engine.parked_payments = {
            user: [OrderFact(**{**f, "at": datetime.fromisoformat(f["at"])}) for f in facts]
            for user, facts in shop.get("parked_payments", {}).items()
        }
        engine.sold_out = set(shop.get("sold_out", ()))
        engine.suppressed = dict(shop.get("suppressed", {}))
    for row in index:
        kind, key, value = row["kind"], row["key"], row["value"]
        if kind == "paid":
            engine.paid_order_ids.add(key)
        elif kind == "orders":
            engine.orders_by_user[key] = [datetime.fromisoformat(at) for at in value]
        elif kind == "device":
            engine.accounts_by_device[key] = set(value)
        elif kind == "flag":
            user, reason = key.split("\x1f", 1)
            engine.flagged_reasons.add((user, reason))
    for share in shares:
        node = _share_from_dict(share)
        engine.shares[node.share_id] = node
    for person in sorted(persons, key=lambda p: str(p["person_id"])):
        engine.restore_person(PersonState.from_dict(person))
    for row in pending:
        item = _parse_input(row["topic"], row["raw"].encode())
        if item is not None:
            engine.offer(item, partition=None)
    engine.dirty.clear()
    engine.new_shares.clear()
    engine.changed_index.clear()


async def read_rules(bootstrap_servers: str, topic: str) -> list[bytes]:
    """Every message on the (compacted) rules topic, read to its end: the rule book before any input."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        values: list[bytes] = []
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            batches = await consumer.getmany(*partitions, timeout_ms=500)
            for records in batches.values():
                values += [record.value for record in records if record.value is not None]
        return values
    finally:
        await consumer.stop()


# A table row is one Kafka message: keep each pending chunk well under the 1 MB default request size.
CHUNK_MAX_BYTES = 256 * 1024


def _split(rows: list[dict[str, Any]], *, max_bytes: int) -> list[list[dict[str, Any]]]:
    chunks: list[list[dict[str, Any]]] = []
    size = max_bytes
    for row in rows:
        length = len(row["raw"]) + len(row["id"]) + 40
        if size + length > max_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(row)
        size += length
    return chunks


def _parse_input(topic: str, raw: bytes) -> Activity | OrderFact | None:
    if topic == Topics.ORDERS.name:
        return order_fact_from_json(raw)
    return activity_from_json(raw)


def _input_id(item: Activity | OrderFact) -> str:
    return item.message_id if isinstance(item, Activity) else item.event_id


def register_decisions(
    app: faust.App,
    *,
    bootstrap_servers: str,
    batch_size: int,
    flush_s: float,
    policy: PushPolicy,
    allowed_lateness: timedelta,
    idle_partition_s: float,
) -> list[faust.types.AgentT[Any]]:
    inputs = app.topic(
        Topics.EVENTS.name, Topics.ORDERS.name, key_type=bytes, value_type=bytes, value_serializer="raw"
    )
    rules_topic = app.topic(
        Topics.AUTOMATION_RULES.name, key_type=bytes, value_type=bytes, value_serializer="raw"
    )
    outputs = {
        stream: app.topic(name, key_type=bytes, value_type=bytes, value_serializer="raw")
        for stream, name in OUTPUT_TOPICS.items()
    }

    def table(name: str) -> faust.types.TableT[str, Any]:
        return app.Table(name, default=None, use_partitioner=True, partitions=app.conf.topic_partitions)

    persons, shares, index, pending, shop = (
        table("streams-persons"),
        table("streams-shares"),
        table("streams-index"),
        table("streams-pending"),
        table("streams-shop"),
    )
    engine = Engine(policy=policy, allowed_lateness=allowed_lateness)
    # Pending inputs are checkpointed one chunk (table row) per batch; chunk key → the input ids in it.
    chunks: dict[str, set[str]] = {}
    loaded = False
    # The two agents share the engine: one batch is decided and checkpointed before the other starts.
    busy = asyncio.Lock()

    async def ensure_loaded() -> None:
        nonlocal loaded
        if loaded:
            return
        pending_rows = [(key, value) for key, value in pending.items() if value]
        restore_engine(
            engine,
            shop=shop.get("shop"),
            persons=[value for value in persons.values() if value],
            shares=[value for value in shares.values() if value],
            index=[value for value in index.values() if value],
            pending=[row for _, value in pending_rows for row in value["inputs"]],
        )
        for key, value in pending_rows:
            chunks[key] = {str(row["id"]) for row in value["inputs"]}
        engine.watermark.touch_all(time.monotonic())
        # Rules first: an input applied before its rule is known would never be scheduled for it.
        results: list[Output] = []
        for raw in await read_rules(bootstrap_servers, Topics.AUTOMATION_RULES.name):
            results += apply_rule(raw)
        loaded = True
        log.info("decisions_restored", persons=len(engine.persons), pending=len(engine.pending()))
        await checkpoint(results)

    def apply_rule(raw: bytes) -> list[Output]:
        try:
            return engine.publish_rule(parse_rule(raw))
        except InvalidRule as error:
            return [
                Output(
                    "dead_letters",
                    "invalid_rule",
                    {
                        "reason_code": "invalid_rule",
                        "reason": str(error),
                        "payload": raw.decode(errors="replace"),
                    },
                )
            ]

    async def checkpoint(results: list[Output], new_chunk: list[dict[str, Any]] | None = None) -> None:
        """Outputs first, then state: a crash in between repeats outputs (ids de-duplicate), never loses them."""
        for output in results:
            await outputs[output.stream].send(key=output.key.encode(), value=orjson.dumps(output.value))
        for person_id in engine.dirty:
            persons[person_id] = engine.persons[person_id].to_dict()
        engine.dirty.clear()
        for share_id in engine.new_shares:
            shares[share_id] = _share_to_dict(engine.shares[share_id])
        engine.new_shares.clear()
        for kind, key in engine.changed_index:
            row_key = f"{kind}\x1f{key}"
            row = index_row(engine, kind, key)
            if row is None:
                index.pop(row_key, None)
            else:
                index[row_key] = row
        engine.changed_index.clear()
        for chunk in _split(new_chunk or [], max_bytes=CHUNK_MAX_BYTES):
            chunk_key = stable_id("pending", chunk[0]["id"], chunk[-1]["id"], str(len(chunk)))
            pending[chunk_key] = {"inputs": chunk}
            chunks[chunk_key] = {row["id"] for row in chunk}
        for chunk_key in [key for key, ids in chunks.items() if not any(map(engine.is_pending, ids))]:
            del chunks[chunk_key]
            pending.pop(chunk_key, None)
        shop["shop"] = shop_state(engine)
        # The changelog holds this batch before its offsets can be committed.
        await app.producer.flush()

    async def decisions(stream: AsyncIterable[Any]) -> None:
        async for events in stream.take_events(batch_size, within=flush_s):  # type: ignore[attr-defined]
            async with busy:
                await decide(events)

    async def decide(events: list[Any]) -> None:
        await ensure_loaded()
        results: list[Output] = []
        new_chunk: list[dict[str, Any]] = []
        seen_at = time.monotonic()
        for event in events:
            message = event.message
            raw: bytes = event.value
            try:
                item = _parse_input(message.topic, raw)
            except BadInput as error:
                results.append(
                    Output(
                        "dead_letters",
                        message.topic,
                        {
                            "reason_code": "bad_input",
                            "reason": str(error),
                            "payload": raw.decode(errors="replace"),
                        },
                    )
                )
                continue
            if item is None:
                continue
            input_id = _input_id(item)
            was_pending = engine.is_pending(input_id)
            is_event = message.topic == Topics.EVENTS.name
            partition = f"{message.topic}:{message.partition}" if is_event else None
            results += engine.offer(item, partition=partition, seen_at=seen_at)
            if not was_pending and engine.is_pending(input_id):
                new_chunk.append({"id": input_id, "topic": message.topic, "raw": raw.decode()})
        results += engine.advance(idle_before=seen_at - idle_partition_s)
        # Only what is still waiting for the watermark needs to survive a restart.
        await checkpoint(results, [row for row in new_chunk if engine.is_pending(row["id"])])

    async def rules(stream: AsyncIterable[bytes]) -> None:
        # Changes while running; the rule book as it stood at start was read by `ensure_loaded`.
        async for values in stream.take(100, within=0.2):  # type: ignore[attr-defined]
            async with busy:
                await ensure_loaded()
                results: list[Output] = []
                for value in values:
                    results += apply_rule(value)
                await checkpoint(results)

    return [
        app.agent(inputs, name="decisions")(decisions),
        app.agent(rules_topic, name="automation-rules")(rules),
    ]
