"""Relays outbox rows to Kafka at least once: publish, wait for the ack, then mark published.

A crash between the ack and the mark re-sends the event; consumers de-duplicate on `event_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaProducer
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.adapters import tables as t
from shoploop.kafka import KafkaSettings, Topics

log = logging.getLogger(__name__)

# Order-core domain events (OrderPlaced, OrderPaid, RefundSucceeded, CouponGranted, …), keyed by aggregate;
# outbox rows with a topic (automation rules → Topics.AUTOMATION_RULES) go to that topic instead.
ORDERS_TOPIC = Topics.ORDERS


def pending_batch(
    session_factory: sessionmaker[Session], limit: int, *, default_topic: str = ORDERS_TOPIC.name
) -> list[tuple[str, str, str, bytes]]:
    """(event_id, topic, key, value): domain events get their event_id; rows routed to another topic (a
    `topic` column, e.g. automation rules) are sent exactly as written."""
    with session_factory() as session:
        found = session.execute(
            select(t.outbox.c.event_id, t.outbox.c.topic, t.outbox.c.key, t.outbox.c.payload)
            .where(t.outbox.c.published_at.is_(None))
            .order_by(t.outbox.c.created_at, t.outbox.c.event_id)
            .limit(limit)
        )
        return [
            (
                row.event_id,
                row.topic or default_topic,
                row.key,
                row.payload.encode()
                if row.topic
                else orjson.dumps({"event_id": row.event_id, **orjson.loads(row.payload)}),
            )
            for row in found
        ]


def mark_published(session_factory: sessionmaker[Session], event_ids: list[str]) -> None:
    with session_factory() as session:
        session.execute(
            update(t.outbox).where(t.outbox.c.event_id.in_(event_ids)).values(published_at=datetime.now(UTC))
        )
        session.commit()


async def relay_once(
    session_factory: sessionmaker[Session],
    producer: AIOKafkaProducer,
    *,
    topic: str = ORDERS_TOPIC.name,
    limit: int = 500,
) -> int:
    batch = await asyncio.to_thread(pending_batch, session_factory, limit, default_topic=topic)
    if not batch:
        return 0
    futures = [await producer.send(to, value=value, key=key.encode()) for _, to, key, value in batch]
    await asyncio.gather(*futures)
    await asyncio.to_thread(mark_published, session_factory, [event_id for event_id, _, _, _ in batch])
    return len(batch)


async def run_relay(
    session_factory: sessionmaker[Session],
    kafka: KafkaSettings,
    *,
    poll_interval_s: float = 1.0,
    stop: asyncio.Event,
) -> None:
    """Relay until `stop` is set; survives broker outages by retrying."""
    while not stop.is_set():
        # At least once with acks from every replica; the warehouse de-duplicates by event_id. No idempotent
        # producer: brokers without InitProducerId support (the embedded one) would refuse every send.
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
        try:
            await producer.start()
            while not stop.is_set():
                if await relay_once(session_factory, producer) == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=poll_interval_s)
        except Exception:
            log.exception("outbox relay failed; retrying")
            await asyncio.sleep(poll_interval_s)
        finally:
            await producer.stop()
