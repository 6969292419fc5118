"""The live-metrics agent: events in, per-minute deltas out on the live-minutes topic."""

from __future__ import annotations

from collections.abc import AsyncIterable

import faust

from ingestion.contract.event import TrackedEvent
from shoploop.kafka import Topics
from streams.metrics.live import LiveTally


def register_live_metrics(app: faust.App, *, batch_size: int, flush_s: float) -> faust.types.AgentT[bytes]:
    events_topic = app.topic(Topics.EVENTS.name, key_type=bytes, value_type=bytes, value_serializer="raw")
    minutes_topic = app.topic(
        Topics.LIVE_MINUTES.name, key_type=bytes, value_type=bytes, value_serializer="raw"
    )
    tally = LiveTally()

    async def live_metrics(stream: AsyncIterable[bytes]) -> None:
        # Batches amortise Faust's per-message cost; one delta per minute touched per batch.
        async for values in stream.take(batch_size, within=flush_s):  # type: ignore[attr-defined]
            events = []
            for value in values:
                try:
                    events.append(TrackedEvent.from_json(value))
                except (ValueError, KeyError, TypeError):
                    continue  # the sink dead-letters undecodable events; metrics just skip them
            for delta in tally.tally(events):
                await minutes_topic.send(key=delta.minute.isoformat().encode(), value=delta.to_json())

    return app.agent(events_topic, name="live-metrics")(live_metrics)
