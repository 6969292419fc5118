"""Reward commands from the streams reach the order core through Kafka and grant each coupon once."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from api.adapters import tables as t
from api.adapters.db import make_engine, make_session_factory
from api.adapters.reward_consumer import consume_rewards
from api.domain.coupons import CouponOffer
from api.migrate import upgrade_database
from api.service_layer import coupons
from api.service_layer.unit_of_work import UnitOfWork
from shoploop.kafka import KafkaSettings, TopicSpec, ensure_topics


async def test_a_redelivered_reward_command_grants_its_coupon_once_and_a_bad_one_is_skipped(
    tmp_path: Path, kafka_settings: KafkaSettings
) -> None:
    url = f"sqlite:///{tmp_path / 'rewards.db'}"
    upgrade_database(url)
    factory = make_session_factory(make_engine(url))
    now = datetime.now(UTC)
    campaign_id = coupons.create_campaign(
        UnitOfWork(factory),
        title="邀请有礼",
        offer=CouponOffer(discount_fen=500),
        total_quantity=10,
        valid_from=now - timedelta(hours=1),
        valid_until=now + timedelta(days=7),
        is_claimable=False,
    )
    topic = f"shoploop.rewards.test-{now.timestamp():.0f}"
    ensure_topics(kafka_settings, (TopicSpec(topic),))
    command = {
        "command_id": "reward-r1-o1-sharer",
        "user_id": "xiaoming",
        "campaign_id": campaign_id,
        "role": "sharer",
    }
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for value in (
            orjson.dumps(command),
            b"not json",
            orjson.dumps({**command, "command_id": "reward-r1-o2", "campaign_id": "no-such-campaign"}),
            orjson.dumps(command),  # redelivered
            orjson.dumps(
                {**command, "command_id": "reward-r1-o3-friend", "user_id": "xiaohong", "role": "friend"}
            ),
        ):
            await producer.send_and_wait(topic, value=value, key=b"xiaoming")
    finally:
        await producer.stop()

    def granted() -> list[tuple[str, str, str]]:
        with factory() as session:
            return sorted(
                (row.user_id, row.claim_ref, row.source)
                for row in session.execute(
                    select(t.coupons.c.user_id, t.coupons.c.claim_ref, t.coupons.c.source)
                )
            )

    stop = asyncio.Event()
    task = asyncio.create_task(
        consume_rewards(
            lambda: UnitOfWork(factory),
            kafka_settings,
            topic=topic,
            clock=lambda: datetime.now(UTC),
            stop=stop,
        )
    )
    try:
        for _ in range(200):
            if len(granted()) >= 2:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)  # room for a wrong second grant to show up
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
    assert granted() == [
        ("xiaohong", "reward:reward-r1-o3-friend", "referral_friend"),
        ("xiaoming", "reward:reward-r1-o1-sharer", "referral_sharer"),
    ]
