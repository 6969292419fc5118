"""The sink agent: takes events off Kafka in batches and appends each batch to the lake as one file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from datetime import UTC, datetime
from pathlib import Path

import faust
import orjson
import structlog

from ingestion.contract.event import TrackedEvent
from shoploop.kafka import Topics
from streams.metrics.live import MinuteDelta
from warehouse.lake import live_minutes_table, write_events, write_partition

log = structlog.get_logger(__name__)


def decode_events(values: list[bytes]) -> tuple[list[TrackedEvent], list[tuple[bytes, str]]]:
    """Split raw Kafka values into events and undecodable values with the reason each failed."""
    events: list[TrackedEvent] = []
    broken: list[tuple[bytes, str]] = []
    for value in values:
        try:
            events.append(TrackedEvent.from_json(value))
        except (ValueError, KeyError, TypeError) as error:
            broken.append((value, f"{type(error).__name__}: {error}"))
    return events, broken


def register_sink(
    app: faust.App, *, events_dir: Path, live_minutes_dir: Path, batch_size: int, flush_s: float
) -> list[faust.types.AgentT[bytes]]:
    events_topic = app.topic(Topics.EVENTS.name, key_type=bytes, value_type=bytes, value_serializer="raw")
    dead_letters = app.topic(Topics.EVENTS_DEAD_LETTER.name, value_type=bytes, value_serializer="raw")

    async def sink(stream: AsyncIterable[bytes]) -> None:
        async for values in stream.take(batch_size, within=flush_s):  # type: ignore[attr-defined]
            events, broken = decode_events(list(values))
            for value, reason in broken:
                letter = {
                    "reason_code": "undecodable_event",
                    "reason": reason,
                    "payload": value.decode(errors="replace"),
                    "source": "sink",
                    "received_at": datetime.now(UTC).isoformat(),
                }
                await dead_letters.send(value=orjson.dumps(letter))
            if events:
                files = await asyncio.to_thread(write_events, events_dir, events)
                log.info("sink_wrote", events=len(events), files=[f.name for f in files])

    minutes_topic = app.topic(
        Topics.LIVE_MINUTES.name, key_type=bytes, value_type=bytes, value_serializer="raw"
    )

    async def live_minutes_sink(stream: AsyncIterable[bytes]) -> None:
        async for values in stream.take(batch_size, within=flush_s):  # type: ignore[attr-defined]
            deltas = [MinuteDelta.from_json(value) for value in values]
            if deltas:
                today = datetime.now(UTC).date().isoformat()
                await asyncio.to_thread(write_partition, live_minutes_dir, today, live_minutes_table(deltas))

    return [
        app.agent(events_topic, name="warehouse-sink")(sink),
        app.agent(minutes_topic, name="live-minutes-sink")(live_minutes_sink),
    ]
