"""Consumes reward commands from the streams (referral coupons) and grants them, idempotently.

The streams emit each command at least once; `grant_reward_coupon` keys the grant on `command_id`, so a
redelivered command grants nothing more. Offsets are committed only after the grants are written.
A command that cannot be applied (malformed, unknown campaign, sold out) is logged and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

import orjson
from aiokafka import AIOKafkaConsumer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.domain.errors import DomainError
from api.service_layer.coupons import grant_reward_coupon
from api.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shoploop.kafka import KafkaSettings

log = logging.getLogger(__name__)
CONSUMER_GROUP = "shoploop-api-rewards"


class RewardCommand(BaseModel):
    """The streams' reward output (streams/engine/core.py `_reward`); extra fields are kept for the log."""

    model_config = ConfigDict(extra="ignore")

    command_id: str = Field(min_length=1, max_length=100)
    user_id: str = Field(min_length=1, max_length=40)
    campaign_id: str = Field(min_length=1, max_length=40)
    rule_id: str | None = None
    role: str | None = None


def apply_reward_command(uow: UnitOfWork, raw: bytes, *, now: datetime) -> str | None:
    """Grant the coupon a reward command asks for; returns the coupon id, or None when it was skipped."""
    try:
        command = RewardCommand.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as error:
        log.warning("skipping a malformed reward command: %s", error)
        return None
    try:
        return grant_reward_coupon(
            uow,
            command_id=command.command_id,
            user_id=command.user_id,
            campaign_id=command.campaign_id,
            now=now,
        )
    except DomainError as error:
        log.warning("reward command %s not granted: %s", command.command_id, error.message)
        return None


async def consume_rewards(
    uow_factory: UnitOfWorkFactory,
    kafka: KafkaSettings,
    *,
    topic: str,
    clock: Callable[[], datetime],
    stop: asyncio.Event,
    poll_timeout_ms: int = 1000,
) -> None:
    """Apply reward commands until `stop` is set; survives broker outages by reconnecting."""
    while not stop.is_set():
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka.bootstrap_servers,
            group_id=CONSUMER_GROUP,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            await consumer.start()
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=poll_timeout_ms)
                for messages in batches.values():
                    for message in messages:
                        await asyncio.to_thread(
                            apply_reward_command, uow_factory(), message.value or b"", now=clock()
                        )
                if batches:
                    await consumer.commit()
        except Exception:
            log.exception("reward consumer failed; reconnecting")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
        finally:
            await consumer.stop()
