"""The decisions agent: events, order facts and rules in; triggers, attributions, rewards, flags out.

One agent drives the decision core in batches (Faust's per-message cost is paid once per batch). Its state
lives in Faust tables (changelogged, so a restarted worker recovers it): one row per person, per share and
per buffered input, plus one row of shop-wide state. The core applies inputs in event-time order, so the
streams role runs as one worker; its tables use the key partitioner and do not need co-partitioning.
"""

from __future__ import annotations

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
    """The engine's shop-wide state (not per person or share), as one JSON-able row."""
    return {
        "now": engine.now.isoformat() if engine.now else None,
        "watermark": {p: at.isoformat() for p, at in engine.watermark.latest_by_partition.items()},
        "rules": engine.rules.as_dict(),
        "person_by_user": engine.person_by_user,
        "parked_payments": {
            user: [{**asdict(f), "at": f.at.isoformat()} for f in facts]
            for user, facts in engine.parked_payments.items()
        },
        "paid_order_ids": sorted(engine.paid_order_ids),
        "orders_by_user": {u: [at.isoformat() for at in times] for u, times in engine.orders_by_user.items()},
        "accounts_by_device": {d: sorted(users) for d, users in engine.accounts_by_device.items()},
        "flagged": sorted([user, reason] for user, reason in engine.flagged_reasons),
        "sold_out": sorted(engine.sold_out),
        "suppressed": engine.suppressed,
    }


def restore_engine(
    engine: Engine,
    *,
    shop: dict[str, Any] | None,
    persons: list[dict[str, Any]],
    shares: list[dict[str, Any]],
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
        engine.person_by_user = dict(shop.get("person_by_user", {}))
        engine.parked_payments = {
            user: [OrderFact(**{**f, "at": datetime.fromisoformat(f["at"])}) for f in facts]
            for user, facts in shop.get("parked_payments", {}).items()
        }
        engine.paid_order_ids = set(shop.get("paid_order_ids", ()))
        engine.orders_by_user = {
            u: [datetime.fromisoformat(at) for at in times]
            for u, times in shop.get("orders_by_user", {}).items()
        }
        engine.accounts_by_device = {d: set(users) for d, users in shop.get("accounts_by_device", {}).items()}
        engine.flagged_reasons = {(user, reason) for user, reason in shop.get("flagged", ())}
        engine.sold_out = set(shop.get("sold_out", ()))
        engine.suppressed = dict(shop.get("suppressed", {}))
    for share in shares:
        node = _share_from_dict(share)
        engine.shares[node.share_id] = node
    for person in sorted(persons, key=lambda p: str(p["person_id"])):
        engine.restore_person(PersonState.from_dict(person))
    for row in pending:
        item = _parse_input(row["topic"], row["raw"].encode())
        if item is not None:
            engine.offer(item)
    engine.dirty.clear()


def _parse_input(topic: str, raw: bytes) -> Activity | OrderFact | None:
    if topic == Topics.ORDERS.name:
        return order_fact_from_json(raw)
    return activity_from_json(raw)


def _input_id(item: Activity | OrderFact) -> str:
    return item.message_id if isinstance(item, Activity) else item.event_id


def register_decisions(
    app: faust.App,
    *,
    batch_size: int,
    flush_s: float,
    policy: PushPolicy,
    allowed_lateness: timedelta,
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
    persons = app.Table(
        "streams-persons", default=None, use_partitioner=True, partitions=app.conf.topic_partitions
    )
    shares = app.Table(
        "streams-shares", default=None, use_partitioner=True, partitions=app.conf.topic_partitions
    )
    pending = app.Table(
        "streams-pending", default=None, use_partitioner=True, partitions=app.conf.topic_partitions
    )
    shop = app.Table("streams-shop", default=None, use_partitioner=True, partitions=app.conf.topic_partitions)
    engine = Engine(policy=policy, allowed_lateness=allowed_lateness)
    loaded = False

    def ensure_loaded() -> None:
        nonlocal loaded
        if loaded:
            return
        restore_engine(
            engine,
            shop=shop.get("shop"),
            persons=[value for value in persons.values() if value],
            shares=[value for value in shares.values() if value],
            pending=[value for value in pending.values() if value],
        )
        loaded = True
        log.info("decisions_restored", persons=len(engine.persons), pending=len(engine.pending()))

    async def publish(results: list[Output]) -> None:
        for output in results:
            await outputs[output.stream].send(key=output.key.encode(), value=orjson.dumps(output.value))

    def persist(applied_before: set[str]) -> None:
        for person_id in engine.dirty:
            persons[person_id] = engine.persons[person_id].to_dict()
        engine.dirty.clear()
        for share_id, node in engine.shares.items():
            if shares.get(share_id) is None:
                shares[share_id] = _share_to_dict(node)
        still_pending = {_input_id(item) for item in engine.pending()}
        for input_id in applied_before - still_pending:
            del pending[input_id]
        shop["shop"] = shop_state(engine)

    async def decisions(stream: AsyncIterable[Any]) -> None:
        async for events in stream.take_events(batch_size, within=flush_s):  # type: ignore[attr-defined]
            ensure_loaded()
            results: list[Output] = []
            buffered = {_input_id(item) for item in engine.pending()}
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
                partition = (
                    f"{message.topic}:{message.partition}" if message.topic == Topics.EVENTS.name else None
                )
                offered = engine.offer(item, partition=partition)
                if not offered:
                    pending[_input_id(item)] = {"topic": message.topic, "raw": raw.decode()}
                    buffered.add(_input_id(item))
                results += offered
            results += engine.advance()
            persist(buffered)
            await publish(results)

    async def rules(stream: AsyncIterable[bytes]) -> None:
        async for values in stream.take(100, within=0.2):  # type: ignore[attr-defined]
            ensure_loaded()
            for value in values:
                try:
                    engine.publish_rule(parse_rule(value))
                except InvalidRule as error:
                    await outputs["dead_letters"].send(
                        value=orjson.dumps(
                            {
                                "reason_code": "invalid_rule",
                                "reason": str(error),
                                "payload": value.decode(errors="replace"),
                            }
                        )
                    )
            shop["shop"] = shop_state(engine)
            for person_id in engine.dirty:
                persons[person_id] = engine.persons[person_id].to_dict()
            engine.dirty.clear()

    return [
        app.agent(inputs, name="decisions")(decisions),
        app.agent(rules_topic, name="automation-rules")(rules),
    ]
