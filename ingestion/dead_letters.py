"""Dead letters: read the events that broke the tracking plan, and replay them once the plan or client is fixed.

Replay re-runs each letter through the collector's own intake with its original receivedAt and batch
fields — tracking plan, enrichment, pseudonymisation, identity graph — so an accepted letter becomes exactly
the event it would have been; its messageId is kept, so replaying twice still reaches the warehouse once.
Letters that still fail stay where they are. A letter received longer ago than the dead-letter topic's retention
is not replayed (`is_replayable`): the lake keeps an erased shopper out only as long as the erasure's tombstone,
which is pruned on that bound (warehouse/erasure.py), so an older letter could bring her back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, TopicPartition

from ingestion.collector.identity import IdentityGraph
from ingestion.collector.intake import DeadLetter, split_batch
from ingestion.collector.privacy import Pseudonymiser
from ingestion.collector.publisher import KafkaEventPublisher
from ingestion.collector.settings import CollectorSettings
from ingestion.contract.segment import SegmentBatch
from shoploop.kafka import KafkaSettings, Topics


@dataclass(frozen=True, slots=True)
class ReplayReport:
    replayed: int
    still_failing: list[DeadLetter]
    # Received longer ago than the dead-letter topic keeps letters: not replayed.
    too_old: list[DeadLetter] = field(default_factory=list)


def is_replayable(letter: DeadLetter, *, now: datetime, dead_letter_retention: timedelta) -> bool:
    """Whether a letter is young enough to be replayed: received within the dead-letter topic's retention."""
    return letter.received_at >= now - dead_letter_retention


async def read_dead_letters(settings: KafkaSettings) -> list[DeadLetter]:
    """Every dead letter currently on the topic, oldest first within each partition (no consumer group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(Topics.EVENTS_DEAD_LETTER.name) or set()
        if not partitions:
            await consumer.force_metadata_update()
            partitions = consumer.partitions_for_topic(Topics.EVENTS_DEAD_LETTER.name) or set()
        assigned = [
            TopicPartition(Topics.EVENTS_DEAD_LETTER.name, partition) for partition in sorted(partitions)
        ]
        if not assigned:
            return []
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        end_offsets = await consumer.end_offsets(assigned)
        letters: list[DeadLetter] = []
        remaining = {tp for tp in assigned if end_offsets[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                letters.extend(DeadLetter.from_json(record.value) for record in records if record.value)
                if records and records[-1].offset + 1 >= end_offsets[tp]:
                    remaining.discard(tp)
            for tp in list(remaining):
                if await consumer.position(tp) >= end_offsets[tp]:
                    remaining.discard(tp)
        return letters
    finally:
        await consumer.stop()


def select(
    letters: list[DeadLetter], *, reason_code: str | None = None, event: str | None = None
) -> list[DeadLetter]:
    def matches(letter: DeadLetter) -> bool:
        payload_event = letter.payload.get("event") if isinstance(letter.payload, dict) else None
        return (reason_code is None or letter.reason_code == reason_code) and (
            event is None or payload_event == event
        )

    return [letter for letter in letters if matches(letter)]


async def replay(
    settings: KafkaSettings,
    letters: list[DeadLetter],
    *,
    timeout_s: float = 10.0,
    collector: CollectorSettings | None = None,
    now: datetime | None = None,
) -> ReplayReport:
    """Accept again what the current plan accepts and publish it as events; report what still fails and what is
    too old to replay (received before `now` minus the dead-letter retention).

    `collector` gives the pseudonym key and the identity graph the collector uses (its settings by default).
    """
    now = now or datetime.now(UTC)
    retention = settings.retention.dead_letter_retention
    too_old = [
        letter for letter in letters if not is_replayable(letter, now=now, dead_letter_retention=retention)
    ]
    letters = [
        letter for letter in letters if is_replayable(letter, now=now, dead_letter_retention=retention)
    ]
    collector = collector or CollectorSettings()
    pseudonymiser = Pseudonymiser(collector.pseudonym_key.get_secret_value().encode())
    identity_graph = await asyncio.to_thread(IdentityGraph.from_url, collector.identity_database_url)
    publisher = KafkaEventPublisher(settings, timeout_s=timeout_s)
    replayed = 0
    still_failing: list[DeadLetter] = []
    try:
        for letter in letters:
            batch = SegmentBatch(
                batch=[letter.payload], sentAt=letter.batch_sent_at, context=letter.batch_context
            )
            intake = split_batch(
                batch, source=letter.source, received_at=letter.received_at, pseudonymise=pseudonymiser.apply
            )
            still_failing.extend(intake.dead_letters)
            if intake.accepted:
                accepted = await asyncio.to_thread(identity_graph.assign_people, intake.accepted)
                await publisher.publish(
                    Topics.EVENTS.name,
                    [(event.person_id.encode(), event.to_json()) for event in accepted],
                )
                replayed += len(accepted)
    finally:
        await publisher.stop()
    return ReplayReport(replayed=replayed, still_failing=still_failing, too_old=too_old)
