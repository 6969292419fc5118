"""One loop for every stream of commands the order core applies: consume, apply each in its own unit of
work, commit offsets only after the batch was applied, reconnect after a broker outage.

Commands arrive at least once, so each `apply` must be idempotent (keyed on the command's own id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from aiokafka import AIOKafkaConsumer

from api.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shoploop.kafka import KafkaSettings

log = logging.getLogger(__name__)

ApplyCommand = Callable[[UnitOfWork, bytes, datetime], object]


async def consume_commands(
    apply: ApplyCommand,
    uow_factory: UnitOfWorkFactory,
    kafka: KafkaSettings,
    *,
    topic: str,
    group_id: str,
    clock: Callable[[], datetime],
    stop: asyncio.Event,
    poll_timeout_ms: int = 1000,
) -> None:
    """Apply commands from `topic` until `stop` is set; survives broker outages by reconnecting."""
    while not stop.is_set():
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka.bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            await consumer.start()
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=poll_timeout_ms)
                for messages in batches.values():
                    for message in messages:
                        await asyncio.to_thread(apply, uow_factory(), message.value or b"", clock())
                if batches:
                    await consumer.commit()
        except Exception:  # any failure of the connection: reconnect; idempotent commands make replays safe
            log.exception("%s consumer failed; reconnecting", group_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
        finally:
            await consumer.stop()
