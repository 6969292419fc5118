"""Consumes the streams' abnormal-account flags (防刷单) into the back-office review queue, idempotently.

The streams publish each flag at least once with a stable `flag_id` (streams/engine/core.py `_flag`);
`record_flag` keys on it, so a redelivered flag changes nothing. Offsets are committed after the flags are
written. A malformed flag is logged and skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from api.adapters.command_consumer import consume_commands
from api.service_layer.account_review import AccountFlag, record_flag
from api.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shoploop.kafka import KafkaSettings

log = logging.getLogger(__name__)
CONSUMER_GROUP = "shoploop-api-account-flags"


class FlagMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    flag_id: str = Field(min_length=1, max_length=96)
    user_id: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=32)
    at: AwareDatetime
    evidence: dict[str, Any] = Field(default_factory=dict)


def apply_flag(uow: UnitOfWork, raw: bytes, *, now: datetime) -> bool:
    """Queue the flag for review and freeze the account; False when it was skipped or already known."""
    try:
        message = FlagMessage.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as error:
        log.warning("skipping a malformed account flag: %s", error)
        return False
    return record_flag(
        uow,
        AccountFlag(
            flag_id=message.flag_id,
            user_id=message.user_id,
            reason=message.reason,
            flagged_at=message.at,
            evidence=message.evidence,
        ),
        now=now,
    )


async def consume_flags(
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
        lambda uow, raw, now: apply_flag(uow, raw, now=now),
        uow_factory,
        kafka,
        topic=topic,
        group_id=CONSUMER_GROUP,
        clock=clock,
        stop=stop,
        poll_timeout_ms=poll_timeout_ms,
    )
