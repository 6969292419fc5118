"""Abnormal-account flags from the streams reach the review queue through Kafka, each exactly once."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from api.adapters import tables as t
from api.adapters.db import make_engine, make_session_factory
from api.adapters.flag_consumer import consume_flags
from api.migrate import upgrade_database
from api.service_layer.unit_of_work import UnitOfWork
from shoploop.kafka import KafkaSettings, TopicSpec, ensure_topics


async def test_a_redelivered_flag_is_queued_once_and_freezes_the_account_and_a_bad_one_is_skipped(
    tmp_path: Path, kafka_settings: KafkaSettings
) -> None:
    url = f"sqlite:///{tmp_path / 'flags.db'}"
    upgrade_database(url)
    factory = make_session_factory(make_engine(url))
    now = datetime.now(UTC)
    topic = f"shoploop.flags.test-{now.timestamp():.0f}"
    ensure_topics(kafka_settings, (TopicSpec(topic),))
    flag = {
        "flag_id": "flag-xiaoming-order_burst",
        "user_id": "xiaoming",
        "reason": "order_burst",
        "at": now.isoformat(),
        "evidence": {"orders": 9},
    }
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for value in (
            orjson.dumps(flag),
            b"not json",
            orjson.dumps({**flag, "at": "yesterday"}),
            orjson.dumps(flag),  # redelivered
            orjson.dumps({**flag, "flag_id": "flag-xiaohong-crowded_device", "user_id": "xiaohong"}),
        ):
            await producer.send_and_wait(topic, value=value, key=b"xiaoming")
    finally:
        await producer.stop()

    def queued() -> list[tuple[str, str]]:
        with factory() as session:
            return sorted(
                (row.user_id, row.flag_id)
                for row in session.execute(select(t.account_flags.c.user_id, t.account_flags.c.flag_id))
            )

    stop = asyncio.Event()
    task = asyncio.create_task(
        consume_flags(
            lambda: UnitOfWork(factory),
            kafka_settings,
            topic=topic,
            clock=lambda: datetime.now(UTC),
            stop=stop,
        )
    )
    try:
        for _ in range(200):
            if len(queued()) >= 2:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
    assert queued() == [
        ("xiaohong", "flag-xiaohong-crowded_device"),
        ("xiaoming", "flag-xiaoming-order_burst"),
    ]
    with factory() as session:
        frozen = sorted(session.execute(select(t.account_freezes.c.user_id)).scalars())
        audit = session.execute(select(t.account_audit_log)).all()
    assert frozen == ["xiaohong", "xiaoming"]
    assert len(audit) == 4  # flagged + frozen, per account
