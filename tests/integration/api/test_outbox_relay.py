"""Domain events written with the order reach Kafka through the outbox relay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import select

from api.adapters import tables as t
from api.adapters.db import make_engine, make_session_factory
from api.adapters.outbox_relay import ORDERS_TOPIC, relay_once
from api.migrate import upgrade_database
from api.service_layer import catalogue, orders
from api.service_layer.unit_of_work import UnitOfWork
from shoploop.kafka import KafkaSettings, ensure_topics


async def test_an_order_placed_is_published_to_the_orders_topic_once_and_marked_published(
    tmp_path: Path, kafka_settings: KafkaSettings
) -> None:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    upgrade_database(url)
    factory = make_session_factory(make_engine(url))
    now = datetime.now(UTC)
    catalogue.create_product(
        UnitOfWork(factory), product_id="p", title="Mug", category="Kitchen", description="",
        skus=[{"sku_id": "mug", "price_fen": 3500, "stock": 5}], now=now,
    )  # fmt: skip
    order = orders.place_order(
        UnitOfWork(factory),
        orders.PlaceOrder(user_id="xiaoming", idempotency_key="k1-outbox", items=[("mug", 1)]),
        now=now,
        payment_window=timedelta(minutes=30),
        low_stock_threshold=1,
    )
    ensure_topics(kafka_settings, (ORDERS_TOPIC,))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        assert await relay_once(factory, producer) == 1
        assert await relay_once(factory, producer) == 0
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        ORDERS_TOPIC.name, bootstrap_servers=kafka_settings.bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=10_000)
        messages = [m for batch in batches.values() for m in batch]
    finally:
        await consumer.stop()
    payloads = [orjson.loads(m.value) for m in messages]
    placed = [p for p in payloads if p["event"] == "OrderPlaced" and p["order_id"] == order.order_id]
    assert len(placed) == 1 and placed[0]["total_fen"] == 3500 and placed[0]["event_id"]
    with factory() as session:
        assert session.execute(select(t.outbox.c.published_at)).scalar() is not None
