"""Consumes reward commands from the streams (referral coupons) and grants them, idempotently.

The streams emit each command at least once; `grant_reward_coupon` keys the grant on `command_id`, so a
redelivered command grants nothing more. Offsets are committed only after the grants are written.
A command that cannot be applied (malformed, unknown campaign, sold out) is logged and skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.adapters.command_consumer import consume_commands
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
            role=command.role,
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
    """Apply them until `stop` is set; survives broker outages by reconnecting."""
    await consume_commands(
        lambda uow, raw, now: apply_reward_command(uow, raw, now=now),
        uow_factory,
        kafka,
        topic=topic,
        group_id=CONSUMER_GROUP,
        clock=clock,
        stop=stop,
        poll_timeout_ms=poll_timeout_ms,
    )
