"""The outbox relay sends domain events to shoploop.orders and rows with a topic (automation rules) to theirs,
exactly as written."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from api.adapters.db import make_engine, make_session_factory
from api.adapters.outbox_relay import ORDERS_TOPIC, relay_once
from api.migrate import upgrade_database
from api.service_layer import automation_rules, favourites
from api.service_layer.catalogue import create_product
from api.service_layer.unit_of_work import UnitOfWork
from shoploop.kafka import KafkaSettings, TopicSpec, ensure_topics
from streams.automations.rules import parse_rule


async def _read(kafka: KafkaSettings, topic: str) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka.bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=10_000)
        return [(m.key or b"", m.value or b"") for batch in batches.values() for m in batch]
    finally:
        await consumer.stop()


async def test_rules_go_to_the_rules_topic_keyed_by_rule_id_and_events_to_the_orders_topic(
    tmp_path: Path, kafka_settings: KafkaSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'routing.db'}"
    upgrade_database(url)
    factory = make_session_factory(make_engine(url))
    now = datetime.now(UTC)
    create_product(
        UnitOfWork(factory), product_id="p", title="Mug", category="Kitchen", description="",
        skus=[{"sku_id": "mug", "price_fen": 3500, "stock": 5}], now=now,
    )  # fmt: skip
    rules_topic = f"shoploop.automation.rules.test-{now.timestamp():.0f}"
    monkeypatch.setattr(automation_rules, "RULES_TOPIC", rules_topic)  # a fresh topic for this run
    automation_rules.save_rule(
        UnitOfWork(factory), rule_id="birthday", body={"kind": "birthday"}, staff_id="lili", now=now
    )
    favourites.set_favourite(
        UnitOfWork(factory), user_id="xiaoming", product_id="p", is_favourite=True, now=now
    )
    orders_topic = f"shoploop.orders.test-{now.timestamp():.0f}"
    ensure_topics(kafka_settings, (TopicSpec(rules_topic, compacted=True), TopicSpec(orders_topic)))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        assert await relay_once(factory, producer, topic=orders_topic) == 2
        assert await relay_once(factory, producer, topic=orders_topic) == 0
    finally:
        await producer.stop()
    rules = await _read(kafka_settings, rules_topic)
    assert [(key, parse_rule(value).version) for key, value in rules] == [(b"birthday", 1)]
    events = [orjson.loads(value) for _, value in await _read(kafka_settings, orders_topic)]
    assert [e["event"] for e in events] == ["ProductFavourited"] and events[0]["event_id"]
    assert ORDERS_TOPIC.name != orders_topic
